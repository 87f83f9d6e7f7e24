using ControlPlane.Domain;

namespace ControlPlane.Domain.Tests;

public sealed class TransitEncryptionModesTests
{
    [Theory]
    [InlineData(null, true, null, "preferred")]
    [InlineData(null, true, "preferred", "preferred")]
    [InlineData(null, null, "preferred", "preferred")]
    [InlineData("preferred", null, "required", "required")]
    [InlineData("preferred", true, "required", "required")]
    [InlineData("preferred", true, null, "preferred")]
    [InlineData("required", true, "required", "required")]
    [InlineData(null, false, null, null)]
    public void One_step_at_a_time_is_allowed(string? current, bool? transitEncryption, string? mode, string? expected)
    {
        var (next, error) = TransitEncryptionModes.Step(current, transitEncryption, mode);
        Assert.Null(error);
        Assert.Equal(expected, next);
    }

    [Theory]
    [InlineData(null, true, "required", ErrorCodes.InvalidParameterCombination, "transitEncryptionMode")]
    [InlineData("required", null, "preferred", ErrorCodes.InvalidParameterCombination, "transitEncryptionMode")]
    [InlineData("preferred", false, null, ErrorCodes.InvalidParameterCombination, "transitEncryption")]
    [InlineData("required", false, null, ErrorCodes.InvalidParameterCombination, "transitEncryption")]
    [InlineData(null, false, "preferred", ErrorCodes.InvalidParameterCombination, "transitEncryption")]
    [InlineData(null, true, "sometimes", ErrorCodes.InvalidParameterValue, "transitEncryptionMode")]
    public void Skipping_a_step_or_going_back_is_refused_and_keeps_the_mode(string? current, bool? transitEncryption, string? mode, string code, string field)
    {
        var (next, error) = TransitEncryptionModes.Step(current, transitEncryption, mode);
        Assert.Equal(current, next);
        Assert.Equal(code, error?.Code);
        Assert.Equal(field, error?.Field);
    }

    [Fact]
    public void A_create_defaults_to_required_and_has_no_mode_without_transit_encryption()
    {
        Assert.Equal("required", TransitEncryptionModes.Effective(true, null));
        Assert.Equal("preferred", TransitEncryptionModes.Effective(true, "preferred"));
        Assert.Null(TransitEncryptionModes.Effective(false, null));
    }
}
