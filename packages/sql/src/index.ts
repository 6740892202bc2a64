/**
 * @pirouette/sql: SQL query results as streams (PostgreSQL, MySQL/MariaDB) and a PostgreSQL change-data-capture listener
 *
 * @module
 */
export {};
