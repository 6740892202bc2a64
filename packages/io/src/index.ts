/**
 * @pirouette/io: File, line and CSV streams: read and write files as Streams and parse CSV bytes to records
 *
 * @module
 */
export {};
