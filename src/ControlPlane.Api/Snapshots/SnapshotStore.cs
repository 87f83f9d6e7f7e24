using System.Security.Cryptography;
using ControlPlane.Api.Options;
using Microsoft.Extensions.Options;

namespace ControlPlane.Api.Snapshots;

/// <summary>A stored snapshot file: its key, size and SHA-256 (lowercase hex).</summary>
public sealed record StoredFile(string Key, long SizeBytes, string Sha256);

/// <summary>
/// Where snapshot files (.rdb) live, by key ("{snapshot}/{shard}.rdb"). A file is written whole or
/// not at all: readers never see a half-written one. Behind an interface so an object store can
/// take the folder's place.
/// </summary>
public interface ISnapshotStore
{
    /// <summary>Stores the content under the key, replacing what was there; returns its size and SHA-256.</summary>
    Task<StoredFile> PutAsync(string key, Stream content, CancellationToken ct);

    /// <summary>Opens the stored file for reading. FileNotFoundException when there is none.</summary>
    Task<Stream> OpenAsync(string key, CancellationToken ct);

    Task<bool> ExistsAsync(string key, CancellationToken ct);

    /// <summary>Removes the file; nothing happens when there is none.</summary>
    Task DeleteAsync(string key, CancellationToken ct);

    /// <summary>Copies a stored file under another key.</summary>
    Task<StoredFile> CopyAsync(string fromKey, string toKey, CancellationToken ct);

    /// <summary>The SHA-256 of what is stored now, to check a file against its record before it is used.</summary>
    Task<string> HashAsync(string key, CancellationToken ct);
}

public static class SnapshotKeys
{
    public static string File(string snapshotName, string shardId) => $"{snapshotName}/{shardId}.rdb";
}

/// <summary>
/// The snapshot store on a local folder (ControlPlane:SnapshotDir). Files are written to a temporary
/// name and renamed when complete. Snapshots hold every key of a cache: files (0600) and folders
/// (0700) are the control plane's user's alone.
/// </summary>
public sealed class FolderSnapshotStore(IOptions<ControlPlaneOptions> options) : ISnapshotStore
{
    private string Root => options.Value.SnapshotDir;

    public async Task<StoredFile> PutAsync(string key, Stream content, CancellationToken ct)
    {
        var path = PathOf(key);
        CreatePrivateDirectory(Path.GetFullPath(Root));
        CreatePrivateDirectory(Path.GetDirectoryName(path)!);
        var temporary = $"{path}.{Guid.NewGuid():N}.partial";
        try
        {
            long size;
            string hash;
            await using (var file = new FileStream(temporary, PrivateFile))
            using (var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                var buffer = new byte[1 << 16];
                int read;
                while ((read = await content.ReadAsync(buffer, ct)) > 0)
                {
                    sha.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), ct);
                }
                await file.FlushAsync(ct);
                file.Flush(flushToDisk: true);
                size = file.Length;
                hash = Convert.ToHexStringLower(sha.GetHashAndReset());
            }
            File.Move(temporary, path, overwrite: true);
            return new StoredFile(key, size, hash);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    private static FileStreamOptions PrivateFile
    {
        get
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, BufferSize = 1 << 16, Options = FileOptions.Asynchronous,
            };
            if (!OperatingSystem.IsWindows())
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            return options;
        }
    }

    private static void CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
            Directory.CreateDirectory(path);
        else if (!Directory.Exists(path))
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public Task<Stream> OpenAsync(string key, CancellationToken ct) =>
        Task.FromResult<Stream>(new FileStream(PathOf(key), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true));

    public Task<bool> ExistsAsync(string key, CancellationToken ct) => Task.FromResult(File.Exists(PathOf(key)));

    public Task DeleteAsync(string key, CancellationToken ct)
    {
        var path = PathOf(key);
        File.Delete(path);
        var folder = Path.GetDirectoryName(path)!;
        if (Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any())
            Directory.Delete(folder);
        return Task.CompletedTask;
    }

    public async Task<StoredFile> CopyAsync(string fromKey, string toKey, CancellationToken ct)
    {
        await using var source = await OpenAsync(fromKey, ct);
        return await PutAsync(toKey, source, ct);
    }

    public async Task<string> HashAsync(string key, CancellationToken ct)
    {
        await using var file = await OpenAsync(key, ct);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(file, ct));
    }

    /// <summary>Keys are "{snapshot}/{shard}.rdb" made of identifier characters; anything that could leave the folder is refused.</summary>
    private string PathOf(string key)
    {
        var root = Path.GetFullPath(Root);
        var path = Path.GetFullPath(Path.Combine(root, key));
        if (!path.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new ArgumentException($"Snapshot key {key} is outside the store.", nameof(key));
        return path;
    }
}
