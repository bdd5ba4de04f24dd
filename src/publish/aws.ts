/**
 * AWS clients for one region, with the SDK's own configuration: the default credential chain
 * (env, shared config with `profile`, SSO, web identity), standard endpoint settings
 * (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL_S3) unless an endpoint is given,
 * and the SDK's retry strategy (throttling and 5xx are retried with backoff).
 */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';

export interface AwsClientOptions {
  /** Shared-config profile (`--profile`); default: the SDK's (AWS_PROFILE or `default`). */
  profile?: string | undefined;
  /** One endpoint for every region and service (`--endpoint-url URL`). */
  endpointUrl?: string | undefined;
  /** Endpoints for particular regions (`--endpoint-url REGION=URL`); they win over endpointUrl. */
  regionEndpoints?: Readonly<Record<string, string>> | undefined;
  /** Attempts per call, including the first (default 5). */
  maxAttempts?: number | undefined;
  /** The SDK's retry mode (default `adaptive`: standard backoff plus client-side rate limiting on throttling). */
  retryMode?: 'standard' | 'adaptive' | undefined;
}

export const DEFAULT_MAX_ATTEMPTS = 5;

export interface RegionClients {
  lambda: LambdaClient;
  s3: S3Client;
  destroy(): void;
}

export function endpointFor(o: AwsClientOptions, region: string): string | undefined {
  return o.regionEndpoints?.[region] ?? o.endpointUrl;
}

/** What every SDK client of the tool is given: region, the SDK's retry strategy, profile, endpoint. */
export function sdkClientConfig(o: AwsClientOptions, region: string, endpoint: string | undefined = endpointFor(o, region)) {
  return {
    region,
    maxAttempts: o.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    retryMode: o.retryMode ?? 'adaptive',
    ...(o.profile ? { profile: o.profile } : {}),
    ...(endpoint ? { endpoint } : {}),
  };
}

export function createRegionClients(o: AwsClientOptions, region: string, env: NodeJS.ProcessEnv = process.env): RegionClients {
  const endpoint = endpointFor(o, region);
  const common = sdkClientConfig(o, region, endpoint);
  const lambda = new LambdaClient(common);
  // A custom endpoint (a local server, a proxy) serves buckets by path, not by host name.
  const customS3 = Boolean(endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL);
  // The zip's SHA-256 is sent as ChecksumSHA256 (S3 verifies it); no streamed checksum
  // trailer on top, which some S3-compatible servers handle very slowly.
  const s3 = new S3Client({ ...common, requestChecksumCalculation: 'WHEN_REQUIRED', ...(customS3 ? { forcePathStyle: true } : {}) });
  return {
    lambda,
    s3,
    destroy: () => {
      lambda.destroy();
      s3.destroy();
    },
  };
}
