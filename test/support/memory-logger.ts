import type { Logger } from '../../src/ports/logger.js';

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** A Logger that keeps its lines, so tests can assert what was logged and with which fields. */
export class MemoryLogger implements Logger {
  constructor(
    readonly lines: LogLine[] = [],
    private readonly inherited: Record<string, unknown> = {},
  ) {}

  child(fields: Record<string, unknown>): Logger {
    return new MemoryLogger(this.lines, { ...this.inherited, ...fields });
  }

  debug(fields: Record<string, unknown>, message: string): void {
    this.write('debug', fields, message);
  }

  info(fields: Record<string, unknown>, message: string): void {
    this.write('info', fields, message);
  }

  warn(fields: Record<string, unknown>, message: string): void {
    this.write('warn', fields, message);
  }

  error(fields: Record<string, unknown>, message: string): void {
    this.write('error', fields, message);
  }

  messages(level?: LogLine['level']): string[] {
    return this.lines.filter((line) => level === undefined || line.level === level).map((line) => line.message);
  }

  private write(level: LogLine['level'], fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level, message, fields: { ...this.inherited, ...fields } });
  }
}
