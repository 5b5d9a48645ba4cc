/** A command line the client role cannot act on; the usage is shown with it. */
export class ClientUsageError extends Error {}

/** A file the command was given cannot be used; the message names the flag, the file and the problem. */
export class ClientInputError extends ClientUsageError {}
