using System.Text;
using System.Text.Json;
using ControlPlane.Domain.Planning;

namespace ControlPlane.Api.Data;

/// <summary>
/// The one mapper between <see cref="PendingChanges"/> and the JSON stored in the PendingChanges and
/// ScheduledChanges columns (EF's value converter for both). The field names are those the REST
/// contract shows as pendingChanges, so the stored text is what rows already hold and what the API
/// shows (after tenant names are made public). A field absent from the JSON is null in the record.
/// </summary>
public static class PendingChangesJson
{
    public const string NumShards = "numShards";
    public const string Rebalance = "rebalance";
    public const string ReplicasPerShard = "replicasPerShard";
    public const string NodeType = "nodeType";
    public const string Engine = "engine";
    public const string EngineVersion = "engineVersion";
    public const string ParameterGroupName = "parameterGroupName";
    public const string AuthTokenUpdateStrategy = "authTokenUpdateStrategy";
    public const string UserGroupIds = "userGroupIds";
    public const string TransitEncryptionMode = "transitEncryptionMode";
    public const string NumNodes = "numNodes";
    public const string NodeIdsToRemove = "nodeIdsToRemove";
    public const string OutdatedNodes = "outdatedNodes";
    public const string RebootNodes = "rebootNodes";
    public const string SlotMigration = "slotMigration";

    /// <summary>The names of the fields the change sets, in the order they are written (events name them).</summary>
    public static IReadOnlyList<string> Fields(PendingChanges changes)
    {
        using var document = JsonDocument.Parse(Write(changes));
        return document.RootElement.EnumerateObject().Select(p => p.Name).ToList();
    }

    public static string Write(PendingChanges changes)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (changes.NumNodes is { } numNodes)
                json.WriteNumber(NumNodes, numNodes);
            if (changes.NodeType is { } nodeType)
                json.WriteString(NodeType, nodeType);
            if (changes.ReplicasPerShard is { } replicas)
                json.WriteNumber(ReplicasPerShard, replicas);
            if (changes.Engine is { } engine)
                json.WriteString(Engine, engine);
            if (changes.EngineVersion is { } version)
                json.WriteString(EngineVersion, version);
            if (changes.ParameterGroupName is { } parameterGroup)
                WriteText(json, ParameterGroupName, parameterGroup.To);
            if (changes.TransitEncryptionMode is { } transit)
                WriteText(json, TransitEncryptionMode, transit.To);
            if (changes.AuthTokenUpdateStrategy is { } strategy)
                json.WriteString(AuthTokenUpdateStrategy, strategy);
            if (changes.UserGroupIds is { } userGroups)
                WriteList(json, UserGroupIds, userGroups);
            if (changes.NumShards is { } shards)
                json.WriteNumber(NumShards, shards);
            if (changes.Rebalance)
                json.WriteBoolean(Rebalance, true);
            if (changes.NodeIdsToRemove is { } removed)
                WriteList(json, NodeIdsToRemove, removed);
            if (changes.OutdatedNodes is { } outdated)
                WriteList(json, OutdatedNodes, outdated);
            if (changes.RebootNodes is { } reboot)
                WriteList(json, RebootNodes, reboot);
            if (changes.SlotMigration is { } migration)
            {
                json.WriteStartObject(SlotMigration);
                json.WriteNumber("totalSlots", migration.TotalSlots);
                json.WriteNumber("progressPercentage", migration.ProgressPercentage);
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public static PendingChanges Read(string text)
    {
        using var document = JsonDocument.Parse(text);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            return PendingChanges.None;
        JsonElement? Field(string name) => root.TryGetProperty(name, out var value) ? value : null;
        string? Text(string name) => Field(name) is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;
        int? Number(string name) => Field(name) is { ValueKind: JsonValueKind.Number } value ? value.GetInt32() : null;
        IReadOnlyList<string>? List(string name) => Field(name) is { ValueKind: JsonValueKind.Array } value
            ? value.EnumerateArray().Select(e => e.GetString()!).ToList() : null;
        Change<string?>? Changed(string name) => Field(name) is { } value ? new Change<string?>(value.ValueKind == JsonValueKind.String ? value.GetString() : null) : null;
        return new PendingChanges
        {
            NumShards = Number(NumShards),
            Rebalance = Field(Rebalance) is { ValueKind: JsonValueKind.True },
            ReplicasPerShard = Number(ReplicasPerShard),
            NodeType = Text(NodeType),
            Engine = Text(Engine),
            EngineVersion = Text(EngineVersion),
            ParameterGroupName = Changed(ParameterGroupName),
            AuthTokenUpdateStrategy = Text(AuthTokenUpdateStrategy),
            UserGroupIds = List(UserGroupIds),
            TransitEncryptionMode = Changed(TransitEncryptionMode),
            NumNodes = Number(NumNodes),
            NodeIdsToRemove = List(NodeIdsToRemove),
            OutdatedNodes = List(OutdatedNodes),
            RebootNodes = List(RebootNodes),
            SlotMigration = Field(SlotMigration) is { ValueKind: JsonValueKind.Object } migration
                ? new SlotMigration(migration.GetProperty("totalSlots").GetInt32(), migration.GetProperty("progressPercentage").GetDouble())
                : null,
        };
    }

    private static void WriteText(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
            json.WriteNull(name);
        else
            json.WriteString(name, value);
    }

    private static void WriteList(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (var value in values)
            json.WriteStringValue(value);
        json.WriteEndArray();
    }
}
