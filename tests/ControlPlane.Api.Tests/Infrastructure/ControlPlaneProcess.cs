using System.Diagnostics;
using System.Text;

namespace ControlPlane.Api.Tests.Infrastructure;

/// <summary>The built control plane (src/ControlPlane.Api) run as a process of its own, its output kept for failure messages.</summary>
public sealed class ControlPlaneProcess
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ControlPlaneProcess(Process process) => _process = process;

    public string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    public static ControlPlaneProcess Start(IReadOnlyDictionary<string, string> environment)
    {
        // tests/ControlPlane.Api.Tests/bin/<configuration>/<tfm>/ -> src/ControlPlane.Api/bin/<configuration>/<tfm>/
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var (tfm, configuration) = (here.Name, here.Parent!.Name);
        var root = here;
        while (!File.Exists(Path.Combine(root.FullName, "ControlPlane.sln")))
            root = root.Parent ?? throw new InvalidOperationException("ControlPlane.sln not found above the test binaries.");
        var bin = Path.Combine(root.FullName, "src", "ControlPlane.Api", "bin", configuration, tfm);
        var start = new ProcessStartInfo("dotnet", [Path.Combine(bin, "ControlPlane.Api.dll")])
        {
            WorkingDirectory = bin,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in environment)
            start.Environment[key] = value;
        var process = new Process { StartInfo = start };
        var result = new ControlPlaneProcess(process);
        process.OutputDataReceived += (_, e) => result.Append(e.Data);
        process.ErrorDataReceived += (_, e) => result.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return result;
    }

    /// <summary>SIGKILL: no graceful shutdown, nothing finished on the way out.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or gone already.
        }
    }

    private void Append(string? line)
    {
        if (line is null)
            return;
        lock (_output)
            _output.AppendLine(line);
    }
}
