namespace ControlPlane.Api.QueryApi;

/// <summary>
/// An error answered in ElastiCache's error XML. Codes and HTTP statuses are those of the service
/// model (botocore's elasticache/2015-02-02/service-2.json) or of AWS's common query errors.
/// </summary>
public sealed class QueryFault(int status, string code, string message) : Exception(message)
{
    public int Status { get; } = status;
    public string Code { get; } = code;

    /// <summary>Client errors are "Sender", ours "Receiver", as in the error XML's Type.</summary>
    public string Type => Status >= 500 ? "Receiver" : "Sender";

    public static QueryFault InvalidParameterValue(string message) => new(400, "InvalidParameterValue", message);

    public static QueryFault InvalidParameterCombination(string message) => new(400, "InvalidParameterCombination", message);

    public static QueryFault MissingParameter(string name) =>
        new(400, "MissingParameter", $"The request must contain the parameter {name}.");

    /// <summary>A feature of ElastiCache that this control plane has not built: said so, never ignored.</summary>
    public static QueryFault NotBuilt(string what) =>
        InvalidParameterCombination($"{what} is not supported by this control plane yet; nothing was changed.");

    /// <summary>
    /// The ElastiCache fault for a REST problem code. The REST statuses (404, 409, ...) become the
    /// model's (most faults are 400; the NotFound ones 404).
    /// </summary>
    public static QueryFault FromRest(RestAnswer answer)
    {
        var (status, code) = answer.Code switch
        {
            "ReplicationGroupNotFound" => (404, "ReplicationGroupNotFoundFault"),
            "ReplicationGroupAlreadyExists" => (400, "ReplicationGroupAlreadyExists"),
            "InvalidReplicationGroupState" => (400, "InvalidReplicationGroupState"),
            "CacheClusterNotFound" => (404, "CacheClusterNotFound"),
            "CacheClusterAlreadyExists" => (400, "CacheClusterAlreadyExists"),
            "InvalidCacheClusterState" => (400, "InvalidCacheClusterState"),
            "SnapshotNotFound" => (404, "SnapshotNotFoundFault"),
            "SnapshotAlreadyExists" => (400, "SnapshotAlreadyExistsFault"),
            "InvalidSnapshotState" => (400, "InvalidSnapshotState"),
            "SnapshotFeatureNotSupported" => (400, "SnapshotFeatureNotSupportedFault"),
            "NodeGroupNotFound" => (404, "NodeGroupNotFoundFault"),
            "NodeQuotaForClusterExceeded" => (400, "NodeQuotaForClusterExceeded"),
            "NodeQuotaForCustomerExceeded" => (400, "NodeQuotaForCustomerExceeded"),
            "NodeGroupsPerReplicationGroupQuotaExceeded" => (400, "NodeGroupsPerReplicationGroupQuotaExceeded"),
            "TestFailoverNotAvailable" => (400, "TestFailoverNotAvailableFault"),
            "CacheParameterGroupNotFound" => (404, "CacheParameterGroupNotFound"),
            "CacheParameterGroupAlreadyExists" => (400, "CacheParameterGroupAlreadyExists"),
            "InvalidParameterGroupState" => (400, "InvalidCacheParameterGroupState"),
            "UserNotFound" => (404, "UserNotFound"),
            "UserAlreadyExists" => (400, "UserAlreadyExists"),
            "InvalidUserState" => (400, "InvalidUserState"),
            "UserGroupNotFound" => (404, "UserGroupNotFound"),
            "UserGroupAlreadyExists" => (400, "UserGroupAlreadyExists"),
            "InvalidUserGroupState" => (400, "InvalidUserGroupState"),
            "NoOperation" => (400, "InvalidParameterCombination"),
            "TagQuotaPerResourceExceeded" => (400, "TagQuotaPerResourceExceeded"),
            "InvalidParameterCombination" => (400, "InvalidParameterCombination"),
            "AccessDenied" => (403, "AccessDenied"),
            "ServiceUnavailable" => (503, "ServiceUnavailable"),
            "PreconditionFailed" => (400, "InvalidParameterCombination"),
            _ when answer.Status >= 500 => (answer.Status, "InternalFailure"),
            _ => (400, "InvalidParameterValue"),
        };
        // Terraform treats "No modifications were requested" as success for an unchanged modify, as on ElastiCache.
        var message = answer.Code == "NoOperation" ? $"No modifications were requested. {answer.Detail}" : answer.Detail;
        return new QueryFault(status, code, message);
    }
}
