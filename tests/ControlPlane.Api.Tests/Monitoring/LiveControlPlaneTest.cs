using System.Diagnostics;
using ControlPlane.Api.Tests.Infrastructure;

namespace ControlPlane.Api.Tests.Monitoring;

/// <summary>
/// A control plane (API, reconciler and collector) in a process of its own on a real loopback port,
/// for clients that are not .NET (a Prometheus server, a browser). The test's own host serves the
/// API on the same database without a reconciler.
/// </summary>
public abstract class LiveControlPlaneTest(PostgresFixture postgres) : ReconcilerTest(postgres)
{
    private ControlPlaneProcess? _plane;

    protected int Port { get; } = PostgresServer.FreePort();

    protected string BaseAddress => $"http://127.0.0.1:{Port}";

    protected string PlaneOutput => _plane?.Output ?? "";

    protected override IReadOnlyDictionary<string, string?> ExtraSettings => new Dictionary<string, string?>
    {
        ["ControlPlane:Reconciler:Enabled"] = "false",
        ["ControlPlane:Metrics:Interval"] = "00:00:01",
    };

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var env = ChildSettings();
        env["ASPNETCORE_URLS"] = BaseAddress;
        _plane = ControlPlaneProcess.Start(env);
        using var http = new HttpClient();
        await WaitUntilAsync(async () =>
        {
            try
            {
                return (await http.GetAsync($"{BaseAddress}/healthz")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60), () => $"the control plane never answered on {BaseAddress}:\n{PlaneOutput}");
    }

    public override async Task DisposeAsync()
    {
        _plane?.Kill();
        await base.DisposeAsync();
    }

    /// <summary>Runs a program to its end within the timeout (killed past it); its exit code and output.</summary>
    protected static async Task<(int ExitCode, string Output)> RunAsync(string program, IEnumerable<string> arguments, TimeSpan timeout)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        return (process.ExitCode, await output + await errors);
    }
}
