using ControlPlane.Domain;

namespace ControlPlane.Domain.Tests;

public sealed class SlotRangesTests
{
    [Theory]
    [InlineData(1, "0-16383")]
    [InlineData(2, "0-8191|8192-16383")]
    [InlineData(3, "0-5460|5461-10922|10923-16383")]
    public void Even_split_matches_redis_cli(int shards, string expected) =>
        Assert.Equal(expected.Split('|'), SlotRanges.EvenSplit(shards));

    [Theory]
    [InlineData(7)]
    [InlineData(90)]
    [InlineData(500)]
    public void Even_split_covers_every_slot_once_and_is_balanced(int shards)
    {
        var split = SlotRanges.EvenSplit(shards);
        var slots = split.SelectMany(s => SlotRanges.TryParse(s, out var r) ? SlotRanges.Expand(r) : throw new InvalidOperationException(s)).ToList();
        Assert.Equal(Enumerable.Range(0, SlotRanges.SlotCount), slots);
        Assert.True(SlotRanges.IsBalanced(split));
    }

    [Theory]
    [InlineData("0-100,200-300", true)]
    [InlineData("5", true)]
    [InlineData("16383", true)]
    [InlineData("16384", false)]
    [InlineData("10-5", false)]
    [InlineData("-1", false)]
    [InlineData("", false)]
    [InlineData("1-2-3", false)]
    public void Parse(string text, bool valid) => Assert.Equal(valid, SlotRanges.TryParse(text, out _));

    [Fact]
    public void Format_compacts_ranges() => Assert.Equal("0-2,5,7-8", SlotRanges.Format([8, 0, 1, 2, 5, 7]));

    [Theory]
    [InlineData("0-5460", "0-5460")]
    [InlineData("7-8,0-2,5", "0-2,5,7-8")]
    [InlineData("0-100,101-200,202", "0-200,202")]
    [InlineData("10-20,15-30,30,31", "10-31")]
    [InlineData("16383,0", "0,16383")]
    [InlineData("3,3,1-5", "1-5")]
    public void Ranges_print_as_their_slots_do(string ranges, string expected)
    {
        Assert.True(SlotRanges.TryParse(ranges, out var parsed));
        Assert.Equal(expected, SlotRanges.Format(parsed));
        Assert.Equal(SlotRanges.Format(SlotRanges.Expand(parsed)), SlotRanges.Format(parsed));
    }

    [Fact]
    public void Unbalanced_slots_are_detected() => Assert.False(SlotRanges.IsBalanced(["0-10000", "10001-16383"]));
}
