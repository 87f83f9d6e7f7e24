using ControlPlane.Api.Options;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Runtime;

/// <summary>Start-up rule: a zone reached over TCP names a DockerCertPath with its three files; the message says how to fix it.</summary>
public sealed class DockerEndpointRules : IValidateOptions<ControlPlaneOptions>
{
    public ValidateOptionsResult Validate(string? name, ControlPlaneOptions options)
    {
        var failures = new List<string>();
        foreach (var (zone, index) in options.AvailabilityZones.Select((z, i) => (z, i)))
        {
            if (!Uri.TryCreate(zone.DockerEndpoint, UriKind.Absolute, out var endpoint) || !DockerMutualTls.IsNetwork(endpoint))
                continue;
            var setting = $"ControlPlane:AvailabilityZones:{index}:DockerCertPath";
            if (string.IsNullOrWhiteSpace(zone.DockerCertPath))
            {
                failures.Add($"Zone {zone.Name}: the Docker engine at {zone.DockerEndpoint} is reached over TCP, which is refused without mutual TLS "
                    + $"(anyone reaching a plain TCP engine is root on its host). Start dockerd with --tlsverify and set {setting} to a folder "
                    + $"holding {DockerMutualTls.CaFile}, {DockerMutualTls.CertFile} and {DockerMutualTls.KeyFile}, or use a unix:// socket.");
                continue;
            }
            var missing = new[] { DockerMutualTls.CaFile, DockerMutualTls.CertFile, DockerMutualTls.KeyFile }
                .Where(f => !File.Exists(Path.Combine(zone.DockerCertPath, f))).ToList();
            if (missing.Count > 0)
                failures.Add($"Zone {zone.Name}: {setting} ({zone.DockerCertPath}) has no {string.Join(", ", missing)}.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
