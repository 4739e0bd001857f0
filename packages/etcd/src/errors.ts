import { BackendUnavailableError, ConfigurationError, TidemarkError } from "@tidemark/core";
import {
  ClientClosedError,
  EtcdAuthenticationFailedError,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
  EtcdRoleNotGrantedError,
  EtcdUserNotFoundError,
  GRPCDeadlineExceededError,
  GRPCUnauthenticatedError,
  GRPCUnavailableError,
  isRecoverableError,
} from "etcd3";

/** How a failed etcd call should be handled. */
export type FailureKind =
  /** The cluster may answer if asked again: network errors, deadlines, leader elections. */
  | "transient"
  /** Nothing changes until an operator acts: credentials, permissions. */
  | "configuration"
  /** Anything else, passed on as it is. */
  | "other";

const CONFIGURATION_MESSAGES =
  /etcdserver: (user name is empty|authentication is not enabled|invalid auth management|permission denied|user name not found|authentication failed)/;
/** The server's certificate was refused: waiting cannot change that. */
const CERTIFICATE_MESSAGES = /certificate|altnames|wrong version number/i;
/** A handshake the server dropped: a server that does not speak TLS, or one going down mid-handshake. */
const TLS_HANDSHAKE_DROPPED = /before secure TLS connection was established/;
const TRANSIENT_MESSAGES =
  /etcdserver: (request timed out|leader changed|no leader|too many requests|server stopped|request cancelled|not capable)/;

export function classifyFailure(error: unknown): FailureKind {
  if (!(error instanceof Error)) return "other";
  if (
    error instanceof EtcdAuthenticationFailedError ||
    error instanceof EtcdPermissionDeniedError ||
    error instanceof EtcdUserNotFoundError ||
    error instanceof EtcdRoleNotGrantedError ||
    error instanceof GRPCUnauthenticatedError ||
    CONFIGURATION_MESSAGES.test(error.message) ||
    CERTIFICATE_MESSAGES.test(error.message)
  ) {
    return "configuration";
  }
  if (error instanceof ClientClosedError) return "other";
  if (
    error instanceof GRPCUnavailableError ||
    error instanceof GRPCDeadlineExceededError ||
    isRecoverableError(error) ||
    TRANSIENT_MESSAGES.test(error.message)
  ) {
    return "transient";
  }
  return "other";
}

/** etcd's answer when a lease is gone (expired or revoked). */
export function isLeaseNotFound(error: unknown): boolean {
  return (
    error instanceof EtcdLeaseInvalidError ||
    (error instanceof Error && /requested lease not found/.test(error.message))
  );
}

/** Credentials, permissions or TLS are wrong; `run` stops instead of retrying forever. */
export function configurationError(endpoints: string, what: string, cause: unknown): ConfigurationError {
  return new ConfigurationError(`etcd ${endpoints}: ${what} failed: ${messageOf(cause)}`, { cause });
}

/** The server dropped a TLS handshake (it may not speak TLS, or went down mid-handshake). */
export function isTlsHandshakeDropped(error: unknown): boolean {
  return TLS_HANDSHAKE_DROPPED.test(messageOf(error));
}

/**
 * Retries ran out: an outage, which `run` waits out, whether or not etcd ever
 * answered (a cluster still starting is not a configuration mistake). Only TLS
 * handshakes dropped for the whole retry budget (`tlsDropped`: some attempt's
 * was, and none got an answer) say the server does not speak TLS.
 */
export function exhaustedError(
  endpoints: string,
  what: string,
  cause: unknown,
  attempts: number,
  elapsedMs: number,
  tlsDropped: boolean,
): TidemarkError {
  const detail = `${what} failed ${attempts} time(s) over ${Math.round(elapsedMs)} ms: ${messageOf(cause)}`;
  if (tlsDropped) {
    return new ConfigurationError(
      `etcd ${endpoints} dropped every TLS handshake (does it serve TLS on this endpoint?): ${detail}`,
      { cause },
    );
  }
  return new BackendUnavailableError(`etcd ${endpoints} is unreachable or not answering: ${detail}`, { cause });
}

/** Any other failure, with the endpoint and the operation named. */
export function operationError(endpoints: string, what: string, cause: unknown): TidemarkError {
  return new TidemarkError(`etcd ${endpoints}: ${what} failed: ${messageOf(cause)}`, { cause });
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
