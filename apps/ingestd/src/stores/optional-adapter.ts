import { ConfigurationError } from "@tidemark/core";

/**
 * Loads a package that the user installs only when they use it (an adapter or
 * its driver), turning "module not found" into an instruction that names the
 * package.
 */
export async function importAdapter<T>(packageName: string, url: string): Promise<T> {
  try {
    return (await import(packageName)) as T;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Only when this very package is missing: a package it imports being missing (an adapter
    // installed without its driver) must not be reported as the adapter itself missing.
    if (code === "ERR_MODULE_NOT_FOUND" && String((error as Error).message).includes(`'${packageName}'`)) {
      throw new ConfigurationError(
        `store "${url}" needs the ${packageName} package, which is not installed: run \`pnpm add ${packageName}\` (or npm install ${packageName})`,
        { cause: error },
      );
    }
    throw error;
  }
}
