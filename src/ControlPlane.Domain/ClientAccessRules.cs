using System.Text.RegularExpressions;

namespace ControlPlane.Domain;

/// <summary>
/// The rules of RBAC users and user groups (ElastiCache's CreateUser / CreateUserGroup): ids, user
/// names, passwords and access strings: their shape, and whether the user's engine knows every command,
/// subcommand and category they name (<see cref="EngineAclNames"/>, what ACL SETUSER of Redis 7.0 and
/// Valkey 8.0 accepts). The API asks a running node as well when there is one (ACL SETUSER on a scratch user).
/// </summary>
public static partial class ClientAccessRules
{
    public const int MaxUserIdLength = 40;
    public const int MaxUserGroupIdLength = 40;
    public const int MaxUserNameLength = 120;
    public const int MaxPasswords = 2;
    public const int MaxAccessStringLength = 2048;
    public const string DefaultUserName = "default";

    /// <summary>The control plane's own users on every node (NodeSecrets' names): no client user may take them.</summary>
    public static readonly IReadOnlySet<string> ReservedUserNames = new HashSet<string>(StringComparer.Ordinal) { "cp-admin", "cp-replication", "cp-health" };

    [GeneratedRegex(@"^[\x21-\x7e]+\z")]
    private static partial Regex PrintableWithoutSpace();

    /// <summary>One rule of an access string: states, key and channel patterns, commands and categories.</summary>
    [GeneratedRegex(@"^(on|off|allkeys|resetkeys|allchannels|resetchannels|allcommands|nocommands|(%(R|W|RW))?~[\x21-\x7e]+|&[\x21-\x7e]+|[+-]@?[a-z0-9_|\-]+)\z", RegexOptions.IgnoreCase)]
    private static partial Regex Rule();

    public static string? CheckUserId(string? id) => Identifiers.Check(id, MaxUserIdLength) is { } error ? $"The user id {error}" : null;

    public static string? CheckUserGroupId(string? id) => Identifiers.Check(id, MaxUserGroupIdLength) is { } error ? $"The user group id {error}" : null;

    /// <summary>Every broken rule of a user as it would be stored; empty when valid.</summary>
    public static IReadOnlyList<Violation> ValidateUser(string userId, string? userName, string? engine, IReadOnlyList<string>? passwords,
        bool noPasswordRequired, string? accessString)
    {
        var errors = new List<Violation>();
        void Value(string field, string message) => errors.Add(new(ErrorCodes.InvalidParameterValue, field, message));
        if (CheckUserId(userId) is { } idError)
            Value("userId", idError);
        if (string.IsNullOrEmpty(userName))
            Value("userName", "The user name is required.");
        else if (userName.Length > MaxUserNameLength || !PrintableWithoutSpace().IsMatch(userName))
            Value("userName", $"The user name must be 1-{MaxUserNameLength} printable ASCII characters without spaces.");
        else if (ReservedUserNames.Contains(userName))
            Value("userName", $"The user name {userName} is the control plane's own.");
        if (!Catalog.IsRedisLike(engine ?? ""))
            Value("engine", $"A user is for {Catalog.Redis} or {Catalog.Valkey}.");
        CheckPasswords(passwords, noPasswordRequired, errors);
        if (CheckAccessString(accessString, engine) is { } accessError)
            Value("accessString", accessError);
        return errors;
    }

    /// <summary>Either 1-2 passwords of 16-128 printable characters, or noPasswordRequired, not both.</summary>
    public static void CheckPasswords(IReadOnlyList<string>? passwords, bool noPasswordRequired, List<Violation> errors)
    {
        if (noPasswordRequired && passwords is { Count: > 0 })
            errors.Add(new(ErrorCodes.InvalidParameterCombination, "passwords", "Passwords cannot be given with noPasswordRequired."));
        else if (!noPasswordRequired && passwords is not { Count: > 0 })
            errors.Add(new(ErrorCodes.InvalidParameterValue, "passwords", $"1-{MaxPasswords} passwords are required unless noPasswordRequired is true."));
        else if (passwords is { Count: > MaxPasswords })
            errors.Add(new(ErrorCodes.InvalidParameterValue, "passwords", $"A user has at most {MaxPasswords} passwords."));
        else if (passwords is not null && passwords.Any(p => !IsSecret(p)))
            errors.Add(new(ErrorCodes.InvalidParameterValue, "passwords",
                $"Each password must be {Limits.MinAuthTokenLength}-{Limits.MaxAuthTokenLength} printable ASCII characters without spaces."));
    }

    /// <summary>A password or auth token: 16-128 printable ASCII characters, no space.</summary>
    public static bool IsSecret(string? secret) =>
        secret is { Length: >= Limits.MinAuthTokenLength and <= Limits.MaxAuthTokenLength } && PrintableWithoutSpace().IsMatch(secret);

    /// <summary>
    /// The reason an access string is refused before any engine sees it, or null: rules separated by
    /// spaces, no password rules (passwords go in passwords), no reset and no selectors; and, given a redis
    /// or valkey engine, every +command, -command, +command|subcommand and +@category / -@category known
    /// to that engine's ACL SETUSER.
    /// </summary>
    public static string? CheckAccessString(string? accessString, string? engine = null)
    {
        if (string.IsNullOrWhiteSpace(accessString))
            return "The access string is required, e.g. \"on ~* +@all\".";
        if (accessString.Length > MaxAccessStringLength)
            return $"The access string must be at most {MaxAccessStringLength} characters.";
        foreach (var rule in Rules(accessString))
        {
            if (rule[0] is '>' or '<' or '#' or '!' || rule.Equals("nopass", StringComparison.OrdinalIgnoreCase) || rule.Equals("resetpass", StringComparison.OrdinalIgnoreCase))
                return $"The access string may not hold passwords ({rule[..1]}...): give them in passwords or set noPasswordRequired.";
            if (!Rule().IsMatch(rule))
                return $"The access string rule \"{rule}\" is not one of on, off, ~keys, %R~ / %W~ / %RW~keys, &channels, allkeys, allchannels, allcommands, nocommands, +command, -command, +@category, -@category.";
        }
        if (EngineAclNames.CommandsOf(engine) is not { } commands)
            return null;
        foreach (var rule in Rules(accessString))
            if (rule[0] is '+' or '-' && !EngineAccepts(rule, commands))
                return $"The access string rule \"{rule}\" names a command, subcommand or category that {engine} does not know.";
        return null;
    }

    /// <summary>
    /// Whether ACL SETUSER takes a +/- rule: @all or a known category (+@read); a known command or subcommand
    /// (-config|get); or, after +, a command with one word after the bar: a known subcommand when the
    /// command has subcommands, any first argument when it has none (+select|0, which the engines allow).
    /// </summary>
    private static bool EngineAccepts(string rule, IReadOnlySet<string> commands)
    {
        var name = rule[1..];
        if (name.StartsWith('@'))
            return name.Equals("@all", StringComparison.OrdinalIgnoreCase) || EngineAclNames.Categories.Contains(name[1..]);
        if (commands.Contains(name))
            return true;
        var bar = name.IndexOf('|');
        if (rule[0] == '-' || bar <= 0)
            return false;
        var (command, argument) = (name[..bar], name[(bar + 1)..]);
        var hasSubcommands = commands.Any(c => c.StartsWith(command + "|", StringComparison.OrdinalIgnoreCase));
        return commands.Contains(command) && argument.Length > 0 && !argument.Contains('|') && !hasSubcommands;
    }

    /// <summary>The rules of an access string, one per space-separated word.</summary>
    public static IReadOnlyList<string> Rules(string accessString) =>
        accessString.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
