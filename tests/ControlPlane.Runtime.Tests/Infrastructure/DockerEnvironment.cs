namespace ControlPlane.Runtime.Tests.Infrastructure;

/// <summary>
/// The Docker engines and node images deploy/test.sh prepares. A missing engine fails the test rather
/// than skipping it: in CI a skipped runtime test is a silent hole in the suite.
/// </summary>
public static class DockerEnvironment
{
    public static string RedisImage => Environment.GetEnvironmentVariable("CONTROLPLANE_REDIS_IMAGE") is { Length: > 0 } image
        ? image
        : "controlplane/redis:7.0";

    public static string ValkeyImage => Environment.GetEnvironmentVariable("CONTROLPLANE_VALKEY_IMAGE") is { Length: > 0 } image
        ? image
        : "controlplane/valkey:8.0";

    public static string MemcachedImage => Environment.GetEnvironmentVariable("CONTROLPLANE_MEMCACHED_IMAGE") is { Length: > 0 } image
        ? image
        : "controlplane/memcached:1.6";

    /// <summary>The engine URI of zone "a", "b" or "c" (CONTROLPLANE_TEST_DOCKER_AZ_A...).</summary>
    public static Uri Endpoint(char zone)
    {
        var variable = $"CONTROLPLANE_TEST_DOCKER_AZ_{char.ToUpperInvariant(zone)}";
        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } endpoint)
            return new Uri(endpoint);

        var message = Environment.GetEnvironmentVariable("CI") is { Length: > 0 }
            ? $"{variable} is not set: the runtime tests need real Docker engines and CI must provide them (.ci/run runs ./deploy/test.sh)."
            : $"{variable} is not set: the runtime tests need real Docker engines. Run them with ./deploy/test.sh, "
              + $"or point {variable} at an engine that has the node images (deploy/images/build.sh).";
        throw new InvalidOperationException(message);
    }
}
