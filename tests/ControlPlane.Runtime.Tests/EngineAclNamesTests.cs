using ControlPlane.Domain;
using ControlPlane.Runtime.Tests.Infrastructure;

namespace ControlPlane.Runtime.Tests;

/// <summary>
/// The names the Domain holds for each engine (EngineAclNames) against the real Redis 7.0 and Valkey 8.0
/// nodes: the same COMMAND LIST and ACL CAT (a new engine version that changes them fails here), and
/// for a seeded corpus of access strings the offline verdict of ClientAccessRules is the engine's own
/// ACL SETUSER on a scratch user.
/// </summary>
public sealed class EngineAclNamesTests : NodeTest
{
    private const int Seed = 13;
    private const int CorpusSize = 300;

    [Theory]
    [InlineData(Catalog.Redis)]
    [InlineData(Catalog.Valkey)]
    public async Task The_offline_verdict_is_the_engines_own(string engine)
    {
        var port = FreePorts.Next();
        var spec = RedisSpec(engine, port);
        if (engine == Catalog.Valkey)
            spec = spec with { Image = DockerEnvironment.ValkeyImage, Command = ["valkey-server", .. spec.Command.Skip(1)] };
        await Zone('a').RunAsync(spec, Ct);
        await UntilAnsweringAsync(port);

        var commands = Names(await DataCommandAsync(port, "COMMAND", "LIST"));
        var categories = Names(await DataCommandAsync(port, "ACL", "CAT"));
        Assert.Equal(commands.Order(), EngineAclNames.CommandsOf(engine)!.Order());
        Assert.Equal(categories.Order(), EngineAclNames.Categories.Order());

        var corpus = Corpus(new Random(Seed));
        var (accepted, refused) = (0, 0);
        foreach (var accessString in corpus)
        {
            Assert.Null(ClientAccessRules.CheckAccessString(accessString)); // the shape is fine: only the names are in question
            var byEngine = await Redis.CheckAccessStringAsync(Loopback, port, ClientAccessRules.Rules(accessString), Ct);
            var offline = ClientAccessRules.CheckAccessString(accessString, engine);
            Assert.True((byEngine is null) == (offline is null),
                $"{engine} {(byEngine is null ? "accepts" : "refuses")} \"{accessString}\" ({byEngine}), offline: {offline ?? "accepted"}");
            if (byEngine is null)
                accepted++;
            else
                refused++;
        }
        // The corpus holds both kinds in numbers, or it proves little.
        Assert.True(accepted >= CorpusSize / 5 && refused >= CorpusSize / 5, $"{accepted} accepted, {refused} refused");
    }

    private static List<string> Names(StackExchange.Redis.RedisResult result) =>
        [.. ((StackExchange.Redis.RedisResult[])result!).Select(r => ((string)r!).ToLowerInvariant())];

    /// <summary>
    /// Access strings of 1-3 +/- rules each: known and unknown commands, subcommands, first arguments,
    /// categories, the other engine's names, empty parts, random words, in random letter case.
    /// </summary>
    private static List<string> Corpus(Random random)
    {
        var names = EngineAclNames.Valkey80Commands.Order().ToArray(); // Redis 7.0's and Valkey's own
        var plain = names.Where(n => !n.Contains('|')).ToArray();
        var containers = plain.Where(c => names.Any(n => n.StartsWith(c + "|", StringComparison.Ordinal))).ToArray();
        var categories = EngineAclNames.Categories.Order().Append("all").ToArray();
        string Pick(string[] from) => from[random.Next(from.Length)];
        string Word() => new([.. Enumerable.Range(0, random.Next(1, 9)).Select(_ => "abcdefghijklmnopqrstuvwxyz0123456789_-|"[random.Next(39)])]);
        string Sign() => random.Next(2) == 0 ? "+" : "-";
        string Case(string rule) => random.Next(4) == 0 ? rule.ToUpperInvariant() : rule;
        string Rule() => random.Next(16) switch
        {
            <= 4 => Sign() + Pick(names),
            5 or 6 => Sign() + "@" + Pick(categories),
            7 => Sign() + Pick(plain) + "x",
            8 => Sign() + Pick(containers) + "|" + Word(),
            9 => Sign() + Pick(plain) + "|" + Word(),
            10 => Sign() + Pick(names) + "|" + Pick(["", "x", "0", "get"]),
            11 => Sign() + "@" + Pick(categories) + Pick(["x", "|read", ""]),
            12 => Sign() + "@" + Word(),
            13 => Sign() + Word(),
            14 => Sign() + "|" + Pick(plain),
            _ => Sign() + Pick(["client|setinfo", "client|capa", "client|no-touch", "cluster|myshardid", "cluster|slot-stats", "script|show", "waitaof"]),
        };
        var corpus = new List<string>();
        while (corpus.Count < CorpusSize)
            corpus.Add("on ~* " + string.Join(' ', Enumerable.Range(0, random.Next(1, 4)).Select(_ => Case(Rule()))));
        return corpus;
    }
}
