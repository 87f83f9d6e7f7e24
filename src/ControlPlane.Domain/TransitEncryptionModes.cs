namespace ControlPlane.Domain;

/// <summary>
/// transitEncryptionMode: <see cref="Required"/> (TLS only, the default with transitEncryption) or
/// <see cref="Preferred"/> (TLS and plain text both accepted). A group without transit encryption
/// has no mode (null). PATCH moves one step at a time: none -> preferred -> required.
/// </summary>
public static class TransitEncryptionModes
{
    public const string Required = "required";
    public const string Preferred = "preferred";

    /// <summary>The mode a create asks for, defaults applied: null without transit encryption.</summary>
    public static string? Effective(bool transitEncryption, string? mode) => transitEncryption ? mode ?? Required : null;

    /// <summary>The create's fields: a mode needs transitEncryption and must be one of the two.</summary>
    public static Violation? Check(bool transitEncryption, string? mode)
    {
        if (mode is null)
            return null;
        if (mode is not (Required or Preferred))
            return new(ErrorCodes.InvalidParameterValue, "transitEncryptionMode", "transitEncryptionMode must be required or preferred.");
        if (!transitEncryption)
            return new(ErrorCodes.InvalidParameterCombination, "transitEncryptionMode", "transitEncryptionMode needs transitEncryption: true.");
        return null;
    }

    /// <summary>
    /// A PATCH from <paramref name="current"/> (null: plain text) to the asked transitEncryption/transitEncryptionMode:
    /// the new mode, or the violation. Only none -> preferred and preferred -> required, one step at a time.
    /// </summary>
    public static (string? Mode, Violation? Error) Step(string? current, bool? transitEncryption, string? mode)
    {
        if (mode is not null and not (Required or Preferred))
            return (current, new(ErrorCodes.InvalidParameterValue, "transitEncryptionMode", "transitEncryptionMode must be required or preferred."));
        if (transitEncryption == false)
            return current is null && mode is null
                ? (null, null)
                : (current, new(ErrorCodes.InvalidParameterCombination, "transitEncryption",
                    "Transit encryption cannot be turned off on a group that has it; create a new group without it."));
        // transitEncryption: true alone on a plain group means the first step; on a TLS group, no change.
        var asked = mode ?? (current ?? Preferred);
        if (asked == current)
            return (current, null);
        var next = current switch { null => Preferred, Preferred => Required, _ => null };
        if (asked != next)
            return (current, new(ErrorCodes.InvalidParameterCombination, "transitEncryptionMode",
                $"transitEncryptionMode moves one step at a time: {current ?? "no transit encryption"} -> {next ?? "(none: required is the last step)"}, not {asked}."));
        return (asked, null);
    }
}
