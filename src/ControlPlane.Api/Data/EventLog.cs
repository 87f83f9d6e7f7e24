using ControlPlane.Domain;

namespace ControlPlane.Api.Data;

/// <summary>Adds an event to the unit of work, so it is stored with the change it describes or not at all.</summary>
public static class EventLog
{
    public static void Record(this ControlPlaneDbContext db, TimeProvider time, SourceType type, string id, string message) =>
        db.Events.Add(new EventEntity { Time = time.GetUtcNow(), SourceType = type, SourceId = id, Message = message, Tenant = TenantNames.TenantOf(id) });
}
