using System.Text.RegularExpressions;
using ControlPlane.Api.Tests.Monitoring;

namespace ControlPlane.Api.Tests.Architecture;

/// <summary>
/// The folders of src/ControlPlane.Api depend one way: endpoints on the reconciler's services,
/// the reconciler on the ports (Runtime, Engines), the ports on nothing of the reconciler's. Read
/// from the source (every "ControlPlane.Api.X" a file names, in a using or qualified), no I/O
/// beyond that and no Docker.
/// </summary>
public sealed partial class FolderDependencyTests
{
    /// <summary>
    /// What each folder may use. A folder not in the table fails the test, so a new one gets its row.
    /// Program.cs and the other files at the root are the composition root and may use everything.
    /// </summary>
    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        // The foundation: configuration and the database.
        ["Options"] = [],
        ["Data"] = ["Options"],
        // Secrets, ACL rules, TLS material and what a TLS node runs with (NodeMultiplexer's container spec).
        ["Security"] = ["Data", "Options", "Runtime"],
        // The ports in front of the world: never the reconciler, the snapshots or the endpoints.
        ["Runtime"] = ["Options"],
        ["Engines"] = ["Security"],
        // Parameter group values as stored; the reconciler and the endpoints read them.
        ["Parameters"] = ["Data"],
        // Snapshots sit under the reconciler, which takes and restores them.
        ["Snapshots"] = ["Data", "Engines", "Options", "Runtime"],
        // Metrics (the reconciler counts into them) and the node collector.
        ["Monitoring"] = ["Data", "Engines", "Http", "Options", "Runtime"],
        // The reconciler and its appliers: everything below it. ChangeListener listens with Http's connection helpers.
        ["Reconciliation"] = ["Data", "Engines", "Http", "Monitoring", "Options", "Parameters", "Runtime", "Security", "Snapshots"],
        // The HTTP side.
        ["Http"] = ["Data", "Options", "QueryApi"],
        ["QueryApi"] = ["Data", "Http"],
        ["Validation"] = ["Http"],
        ["Contracts"] = ["Data", "Http", "Parameters"],
        ["Endpoints"] = ["Contracts", "Data", "Engines", "Http", "Monitoring", "Options", "Parameters", "QueryApi", "Reconciliation", "Runtime", "Security", "Validation"],
        // The in-memory world (ControlPlane:World=memory): fakes behind the same ports, never the reconciler.
        ["World"] = ["Engines", "Monitoring", "Options", "Runtime", "Security"],
        // Maintenance windows: turns scheduled changes into pending ones for the reconciler.
        ["Maintenance"] = ["Data", "Endpoints", "Options", "Parameters", "Reconciliation"],
    };

    /// <summary>Edges of the table that still close a loop, each one to remove; no other edge may.</summary>
    private static readonly HashSet<(string From, string To)> KnownLoops =
    [
        // Authentication, screening and throttling tell the query API's requests apart.
        ("Http", "QueryApi"),
    ];

    [Fact]
    public void Every_folder_uses_only_what_the_table_allows()
    {
        var broken = Uses().Where(u => !Allowed.TryGetValue(u.From, out var allowed) || !allowed.Contains(u.To))
            .Select(u => $"{u.From} -> {u.To} ({u.File})").Distinct().Order(StringComparer.Ordinal).ToList();
        Assert.True(broken.Count == 0, "Dependencies against the allowed direction (or from a folder the table does not know):\n" + string.Join('\n', broken));
    }

    [Fact]
    public void The_allowed_table_has_no_loop_beyond_the_known_ones()
    {
        var loops = Allowed.SelectMany(row => row.Value.Where(to => Reaches(to, row.Key, []))
                .Select(to => (row.Key, to)))
            .Where(edge => !KnownLoops.Contains(edge))
            .Select(edge => $"{edge.Key} -> {edge.to}").ToList();
        Assert.True(loops.Count == 0, "Edges of the table that close a loop:\n" + string.Join('\n', loops));
    }

    [Fact]
    public void The_ports_depend_on_none_of_their_users()
    {
        foreach (var port in new[] { "Runtime", "Engines" })
            Assert.DoesNotContain(Allowed[port], to => to is "Reconciliation" or "Snapshots" or "Endpoints" or "Monitoring" or "Maintenance");
        Assert.DoesNotContain("Reconciliation", Allowed["Snapshots"]);
    }

    private static bool Reaches(string from, string to, HashSet<string> seen)
    {
        if (from == to)
            return true;
        if (!seen.Add(from))
            return false;
        return Allowed.GetValueOrDefault(from, []).Where(next => !KnownLoops.Contains((from, next))).Any(next => Reaches(next, to, seen));
    }

    private static IEnumerable<(string From, string To, string File)> Uses()
    {
        var source = Path.Combine(PrometheusScrapeTests.RepositoryRoot(), "src", "ControlPlane.Api");
        var files = Directory.EnumerateFiles(source, "*.cs", SearchOption.AllDirectories)
            .Select(file => (Path: file, Relative: Path.GetRelativePath(source, file).Replace('\\', '/')))
            .Select(f => (f.Path, f.Relative, Folder: f.Relative.Split('/') is { Length: > 1 } parts && parts[0] is not ("bin" or "obj") ? parts[0] : null))
            .Where(f => f.Folder is not null) // the files at the root are the composition root
            .Select(f => (f.Path, f.Relative, Folder: f.Folder!, Lines: File.ReadAllLines(f.Path)))
            .ToList();
        // The types each folder declares, to find "Security.Tls.TransitEncryption" written from inside ControlPlane.Api.
        var declared = files.GroupBy(f => f.Folder).ToDictionary(g => g.Key,
            g => g.SelectMany(f => f.Lines).SelectMany(line => Declaration().Matches(line)).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal));
        foreach (var (_, relative, folder, lines) in files)
        {
            foreach (var line in lines)
            {
                var code = line.TrimStart();
                if (code.StartsWith("namespace ", StringComparison.Ordinal) || code.StartsWith("//", StringComparison.Ordinal))
                    continue;
                foreach (Match m in Reference().Matches(line))
                {
                    if (m.Groups[1].Value != folder)
                        yield return (folder, m.Groups[1].Value, relative);
                }
                foreach (Match m in Qualified().Matches(line))
                {
                    var to = m.Groups[1].Value;
                    if (to != folder && declared.TryGetValue(to, out var types) && m.Groups[2].Captures.Any(c => types.Contains(c.Value)))
                        yield return (folder, to, relative);
                }
            }
        }
    }

    // "using ControlPlane.Api.Engines;" and a qualified "ControlPlane.Api.Security.Tls.TransitEncryption" alike.
    [GeneratedRegex(@"\bControlPlane\.Api\.([A-Z][A-Za-z]*)\b")]
    private static partial Regex Reference();

    // "Security.Tls.TransitEncryption" or "QueryApi.SigV4.Algorithm" from inside the ControlPlane.Api namespace: a folder, then names one of which is its type.
    [GeneratedRegex(@"(?<![\w.])([A-Z][A-Za-z]*)(?:\.([A-Z][A-Za-z0-9]*))+")]
    private static partial Regex Qualified();

    [GeneratedRegex(@"\b(?:class|record|interface|enum|struct)\s+([A-Z][A-Za-z0-9]*)")]
    private static partial Regex Declaration();
}
