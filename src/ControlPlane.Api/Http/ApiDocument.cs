namespace ControlPlane.Api.Http;

/// <summary>The OpenAPI document's description: the error codes every client must handle, as README.md lists them.</summary>
public static class ApiDocument
{
    public const string Description = """
        Managed Redis and Memcached on your own machines.

        Every /v1 call needs an API key: `Authorization: Bearer cpk_<keyId>_<secret>` (Swagger UI's Authorize
        button). `viewer` keys read, `operator` keys change their tenant's resources, `admin` keys do everything
        in every tenant (naming it with `?tenant=`, or `tenant` in a create's body) and manage keys.

        Every error is `application/problem+json` (RFC 9457) with a machine-readable `code`; a 400 about the
        request's content has an `errors` object mapping each field (`shards[1].slots`, `limit`, `Idempotency-Key`,
        `body`) to its messages. Nothing refused is stored or started. Codes:
        400 `InvalidParameterValue`, `InvalidParameterCombination`, `NodeQuotaForClusterExceeded`,
        `NodeGroupsPerReplicationGroupQuotaExceeded`, `NodeQuotaForCustomerExceeded`, `NoOperation`,
        `SnapshotFeatureNotSupported`, `TagQuotaPerResourceExceeded`, `MalformedRequest`,
        `InvalidParameterGroupState` (a default parameter group changed, or a group in use deleted);
        401 `AuthenticationRequired`, `InvalidApiKey`; 403 `AccessDenied`;
        404 `ReplicationGroupNotFound`, `CacheClusterNotFound`, `SnapshotNotFound`, `NodeGroupNotFound`, `ApiKeyNotFound`,
        `CacheParameterGroupNotFound`, `UserNotFound`, `UserGroupNotFound`, `NotFound`;
        405 `MethodNotAllowed`; 408 `RequestTimeout`;
        409 `ReplicationGroupAlreadyExists`, `CacheClusterAlreadyExists`, `SnapshotAlreadyExists`, `CacheParameterGroupAlreadyExists`,
        `InvalidReplicationGroupState`, `InvalidCacheClusterState`, `InvalidSnapshotState`, `InvalidApiKeyState`,
        `UserAlreadyExists`, `UserGroupAlreadyExists`, `InvalidUserState`, `InvalidUserGroupState`;
        412 `PreconditionFailed`; 413, 414, 431 `RequestTooLarge`; 415 `UnsupportedMediaType`; 422 `IdempotencyKeyReused`;
        429 `TestFailoverNotAvailable`, `SnapshotQuotaExceeded`, `ThrottlingException` (with `Retry-After`);
        500 `InternalFailure`; 503 `ServiceUnavailable`.

        Input is exactly the JSON described here: numbers as numbers, enum values and field names as spelled,
        each key once, no byte-order mark, no control characters in strings or query values, no null array
        elements, times as RFC 3339 date-times (any offset, stored in UTC).

        The same resources also speak ElastiCache's own query API at `POST /` (form-encoded, `Version=2015-02-02`,
        Signature Version 4 with the key id as access key id and the secret as secret access key), so the aws CLI,
        boto3 and Terraform's AWS provider work with their endpoint set here; that API is not part of this document.
        """;
}
