using ControlPlane.Domain;

namespace ControlPlane.Domain.Tests;

/// <summary>The shape of access strings and passwords, before any engine is asked.</summary>
public sealed class ClientAccessRulesTests
{
    [Theory]
    [InlineData("on ~app:* +@read", true)]
    [InlineData("on ~* &* +@all -flushall", true)]
    [InlineData("off", true)]
    [InlineData("on %R~cache:* %RW~app:* allchannels +get +client|setname -@dangerous", true)]
    [InlineData("on allkeys allcommands", true)]
    [InlineData("", false)]
    [InlineData("   ", false)]
    [InlineData("on >secret-password ~* +@all", false)]
    [InlineData("on <secret ~*", false)]
    [InlineData("on #0123abcd ~*", false)]
    [InlineData("on nopass ~*", false)]
    [InlineData("on resetpass ~*", false)]
    [InlineData("reset on ~*", false)]
    [InlineData("on ~* (+get ~x)", false)]
    [InlineData("on ~* +@all whatever", false)]
    public void Access_strings_are_rules_without_passwords(string accessString, bool valid) =>
        Assert.Equal(valid, ClientAccessRules.CheckAccessString(accessString) is null);

    [Theory]
    [InlineData("sixteen-chars-ok", true)]
    [InlineData("fifteen-chars-x", false)]
    [InlineData("with space in it!", false)]
    [InlineData("non-ascii-passwörd", false)]
    public void Secrets_are_16_to_128_printable_characters(string secret, bool valid) =>
        Assert.Equal(valid, ClientAccessRules.IsSecret(secret));

    [Fact]
    public void Secrets_of_128_characters_pass_and_of_129_do_not()
    {
        Assert.True(ClientAccessRules.IsSecret(new string('s', 128)));
        Assert.False(ClientAccessRules.IsSecret(new string('s', 129)));
    }
}
