using ControlPlane.Api.Data;
using ControlPlane.Api.Endpoints;
using ControlPlane.Api.Engines;
using ControlPlane.Api.Maintenance;
using ControlPlane.Api.Monitoring;
using ControlPlane.Api.Options;
using ControlPlane.Api.Reconciliation;
using ControlPlane.Api.Runtime;
using ControlPlane.Api.Security;
using ControlPlane.Api.Snapshots;
using ControlPlane.Api.World;

var builder = WebApplication.CreateBuilder(args);

// Configuration (Options/), validated at start-up, and the one clock everything reads.
builder.AddControlPlaneOptions();
builder.Services.AddSingleton(TimeProvider.System);
// The desired and observed state in Postgres (Data/).
builder.Services.AddDatabase(builder.Configuration);
// The REST and query APIs (Endpoints/, Http/, QueryApi/, Validation/).
builder.AddControlPlaneApi();
// The world, behind ports: container engines per zone (Runtime/), node secrets and TLS (Security/), engine clients (Engines/).
builder.Services.AddNodeRuntime();
builder.Services.AddSecurity(builder.Configuration);
builder.Services.AddEngines();
// ControlPlane:World=memory: the runtime and the engine ports on the in-memory world instead (World/).
builder.Services.AddWorld(builder.Configuration);
// The reconciler (Reconciliation/), and the workers beside it.
builder.Services.AddReconciler();
builder.Services.AddSnapshots();
builder.Services.AddMaintenance();
builder.Services.AddRetention();
// Metrics (/metrics), the node collector, time series, slow logs (Monitoring/).
builder.AddMonitoring();

var app = builder.Build();
app.UseControlPlaneApi();
app.MapControlPlane();
app.Run();

public partial class Program;
