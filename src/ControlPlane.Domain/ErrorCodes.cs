namespace ControlPlane.Domain;

/// <summary>The machine-readable <c>code</c> values of the REST contract's problem details.</summary>
public static class ErrorCodes
{
    public const string InvalidParameterValue = nameof(InvalidParameterValue);
    public const string InvalidParameterCombination = nameof(InvalidParameterCombination);
    public const string NodeQuotaForClusterExceeded = nameof(NodeQuotaForClusterExceeded);
    public const string NodeGroupsPerReplicationGroupQuotaExceeded = nameof(NodeGroupsPerReplicationGroupQuotaExceeded);
    public const string NoOperation = nameof(NoOperation);
    public const string SnapshotFeatureNotSupported = nameof(SnapshotFeatureNotSupported);
    public const string ReplicationGroupNotFound = nameof(ReplicationGroupNotFound);
    public const string CacheClusterNotFound = nameof(CacheClusterNotFound);
    public const string SnapshotNotFound = nameof(SnapshotNotFound);
    public const string NodeGroupNotFound = nameof(NodeGroupNotFound);
    public const string ReplicationGroupAlreadyExists = nameof(ReplicationGroupAlreadyExists);
    public const string CacheClusterAlreadyExists = nameof(CacheClusterAlreadyExists);
    public const string SnapshotAlreadyExists = nameof(SnapshotAlreadyExists);
    public const string InvalidReplicationGroupState = nameof(InvalidReplicationGroupState);
    public const string InvalidCacheClusterState = nameof(InvalidCacheClusterState);
    public const string InvalidSnapshotState = nameof(InvalidSnapshotState);
    public const string PreconditionFailed = nameof(PreconditionFailed);
    public const string IdempotencyKeyReused = nameof(IdempotencyKeyReused);
    public const string TestFailoverNotAvailable = nameof(TestFailoverNotAvailable);
    public const string SnapshotQuotaExceeded = nameof(SnapshotQuotaExceeded);
    public const string ServiceUnavailable = nameof(ServiceUnavailable);
    public const string NodeQuotaForCustomerExceeded = nameof(NodeQuotaForCustomerExceeded);
    public const string TagQuotaPerResourceExceeded = nameof(TagQuotaPerResourceExceeded);
    public const string CacheParameterGroupNotFound = nameof(CacheParameterGroupNotFound);
    public const string CacheParameterGroupAlreadyExists = nameof(CacheParameterGroupAlreadyExists);
    public const string InvalidParameterGroupState = nameof(InvalidParameterGroupState);
    public const string UserNotFound = nameof(UserNotFound);
    public const string UserAlreadyExists = nameof(UserAlreadyExists);
    public const string InvalidUserState = nameof(InvalidUserState);
    public const string UserGroupNotFound = nameof(UserGroupNotFound);
    public const string UserGroupAlreadyExists = nameof(UserGroupAlreadyExists);
    public const string InvalidUserGroupState = nameof(InvalidUserGroupState);

    // What the HTTP layer itself refuses, in the same style.
    public const string NotFound = nameof(NotFound);
    public const string MethodNotAllowed = nameof(MethodNotAllowed);
    public const string RequestTimeout = nameof(RequestTimeout);
    public const string RequestTooLarge = nameof(RequestTooLarge);
    public const string UnsupportedMediaType = nameof(UnsupportedMediaType);
    public const string MalformedRequest = nameof(MalformedRequest);
    public const string AuthenticationRequired = nameof(AuthenticationRequired);
    public const string InvalidApiKey = nameof(InvalidApiKey);
    public const string AccessDenied = nameof(AccessDenied);
    public const string ApiKeyNotFound = nameof(ApiKeyNotFound);
    public const string InvalidApiKeyState = nameof(InvalidApiKeyState);
    public const string ThrottlingException = nameof(ThrottlingException);
    /// <summary>An unexpected failure (500): a bug; nothing is known to have been stored.</summary>
    public const string InternalFailure = nameof(InternalFailure);
}

/// <summary>One broken rule: which field, what is wrong, and the contract code it answers with.</summary>
public sealed record Violation(string Code, string Field, string Message);
