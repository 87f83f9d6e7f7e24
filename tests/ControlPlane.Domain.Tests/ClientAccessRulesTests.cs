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
    [InlineData("redis", "on ~* +@all -flushall -config|set +client|setname", true)]
    [InlineData("redis", "on ~* +@READ -@Dangerous +CONFIG|GET", true)]
    [InlineData("redis", "on ~* -@all +select|0", true)] // a first argument of a command without subcommands
    [InlineData("redis", "on ~* +nosuchcommand", false)]
    [InlineData("redis", "on ~* -nosuchcommand", false)]
    [InlineData("redis", "on ~* +@nosuchcategory", false)]
    [InlineData("redis", "on ~* -@all|read", false)]
    [InlineData("redis", "on ~* +config|nosuchsub", false)]
    [InlineData("redis", "on ~* +config|get|maxmemory", false)] // a first argument of a subcommand
    [InlineData("redis", "on ~* -select|0", false)] // first arguments only after +
    [InlineData("redis", "on ~* +get|", false)]
    [InlineData("redis", "on ~* +|get", false)]
    [InlineData("redis", "on ~* +client|setinfo", false)] // Valkey 8.0's, not Redis 7.0's
    [InlineData("redis", "on ~* +waitaof", false)]
    [InlineData("valkey", "on ~* +client|setinfo +waitaof -script|show", true)]
    [InlineData("valkey", "on ~* +client|nosuchsub", false)]
    [InlineData("valkey", "on ~* -@nosuchcategory", false)]
    [InlineData("memcached", "on ~* +nosuchcommand", true)] // no ACL there: the engine field says so on its own
    public void Access_strings_name_only_what_the_engine_knows(string engine, string accessString, bool valid) =>
        Assert.Equal(valid, ClientAccessRules.CheckAccessString(accessString, engine) is null);

    [Fact]
    public void A_refused_rule_is_named_in_the_message() =>
        Assert.Contains("+config|nosuchsub", ClientAccessRules.CheckAccessString("on ~* +get +config|nosuchsub", "redis"));

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
