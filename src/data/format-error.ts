/** A malformed or unusable data file: the message is one line, `file:line: what` (or `file: what` for the whole file). */
export class FileFormatError extends Error {
  readonly file: string;
  /** 1-based; absent for whole-file errors */
  readonly line: number | undefined;
  constructor(file: string, line: number | undefined, message: string) {
    super(line === undefined ? `${file}: ${message}` : `${file}:${line}: ${message}`);
    this.name = new.target.name;
    this.file = file;
    this.line = line;
  }
}
