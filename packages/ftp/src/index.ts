/**
 * @pirouette/ftp: SFTP and FTP client with streaming transfers, and a polling file-arrival listener
 *
 * @module
 */
export {};
