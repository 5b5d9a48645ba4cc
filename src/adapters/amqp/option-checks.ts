/** Refuses a numeric option outside its range, naming the option and what it got. */
export function checkIntegerOption(subject: string, name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${subject} option ${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}
