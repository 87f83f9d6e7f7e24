namespace ControlPlane.Api.Tests.Infrastructure;

/// <summary>The admin key every test host is configured with (ControlPlane:AdminKey), in the default tenant.</summary>
public static class TestKeys
{
    public const string AdminKeyId = "00000000ad01";
    public const string AdminSecret = "5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e7aaaa";
    public const string Admin = $"cpk_{AdminKeyId}_{AdminSecret}";
}
