using System.Globalization;
using System.Text.RegularExpressions;

namespace ControlPlane.Api.QueryApi;

/// <summary>
/// The form parameters of one query request, with the protocol's flattening of lists and
/// structures: <c>Tags.Tag.1.Key</c> (a list whose members are named) or <c>TagKeys.member.1</c>.
/// Every parameter an action reads is marked; whatever is left over names a feature this control
/// plane does not have, and is refused rather than ignored (<see cref="RefuseUnread"/>).
/// </summary>
public sealed partial class QueryParameters(IReadOnlyDictionary<string, string> values)
{
    private readonly HashSet<string> _read = ["Action", "Version"];

    public string? Action => values.GetValueOrDefault("Action");
    public string? Version => values.GetValueOrDefault("Version");

    public string? Get(string name)
    {
        _read.Add(name);
        return values.GetValueOrDefault(name);
    }

    public string Required(string name) =>
        Get(name) is { Length: > 0 } value ? value : throw QueryFault.MissingParameter(name);

    public int? Int(string name)
    {
        if (Get(name) is not { } text)
            return null;
        return int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw QueryFault.InvalidParameterValue($"{name} must be an integer; got '{text}'.");
    }

    public bool? Bool(string name) => Get(name) switch
    {
        null => null,
        var t when t.Equals("true", StringComparison.OrdinalIgnoreCase) => true,
        var t when t.Equals("false", StringComparison.OrdinalIgnoreCase) => false,
        var t => throw QueryFault.InvalidParameterValue($"{name} must be true or false; got '{t}'."),
    };

    public DateTimeOffset? Time(string name)
    {
        if (Get(name) is not { } text)
            return null;
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value)
            ? value.ToUniversalTime()
            : throw QueryFault.InvalidParameterValue($"{name} must be an ISO 8601 time; got '{text}'.");
    }

    /// <summary>A list of strings: <c>Name.Member.1</c>, <c>Name.member.2</c>, ... in index order.</summary>
    public List<string> List(string name)
    {
        var items = new SortedDictionary<int, string>();
        foreach (var (key, value) in values)
            if (key.StartsWith(name + ".", StringComparison.Ordinal) && ListItem().Match(key[(name.Length + 1)..]) is { Success: true } m)
            {
                _read.Add(key);
                items[int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)] = value;
            }
        return items.Values.ToList();
    }

    /// <summary>A list of structures: <c>Tags.Tag.1.Key</c>, <c>Tags.Tag.1.Value</c>, ... one dictionary per index.</summary>
    public List<Dictionary<string, string>> Structures(string name)
    {
        var items = new SortedDictionary<int, Dictionary<string, string>>();
        foreach (var (key, value) in values)
            if (key.StartsWith(name + ".", StringComparison.Ordinal) && StructureField().Match(key[(name.Length + 1)..]) is { Success: true } m)
            {
                _read.Add(key);
                var index = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
                if (!items.TryGetValue(index, out var item))
                    items[index] = item = [];
                item[m.Groups[2].Value] = value;
            }
        return items.Values.ToList();
    }

    /// <summary>Marks parameters this action accepts and ignores because they cannot change anything here.</summary>
    public void Accept(params string[] names)
    {
        foreach (var name in names)
            _read.Add(name);
    }

    /// <summary>Any parameter the action did not read is a feature not built: InvalidParameterCombination naming it.</summary>
    public void RefuseUnread()
    {
        var unread = values.Keys.Where(k => !_read.Contains(k)).Select(k => k.Split('.')[0]).Distinct().Order(StringComparer.Ordinal).ToList();
        if (unread.Count > 0)
            throw QueryFault.NotBuilt($"The parameter(s) {string.Join(", ", unread)} of {Action}");
    }

    [GeneratedRegex(@"^(?:[A-Za-z]+\.)?(\d+)$")]
    private static partial Regex ListItem();

    [GeneratedRegex(@"^(?:[A-Za-z]+\.)?(\d+)\.([A-Za-z]+)$")]
    private static partial Regex StructureField();
}
