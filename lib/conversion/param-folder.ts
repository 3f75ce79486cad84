/** Moved to lib/param-folder/s3.ts (the S3 back end of the one param-folder module). */
export { FolderChangedError, writeParamFolder } from '../param-folder/s3';
