import { ConfigurationError } from "@tidemark/core";

/** A configuration value was wrong; `field` names it as the user wrote it (flag, variable or file key). */
export class InvalidConfigError extends ConfigurationError {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`${field}: ${problem}`);
  }
}
