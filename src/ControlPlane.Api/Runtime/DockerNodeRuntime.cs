using System.Formats.Tar;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace ControlPlane.Api.Runtime;

/// <summary>The Docker engine of one availability zone.</summary>
public sealed partial class DockerNodeRuntime : INodeRuntime, IDisposable
{
    // A dead or wedged engine must not hang a reconcile pass. The event stream is not bound by it
    // (Docker.DotNet applies the timeout until the response headers, which the engine sends at once).
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    // Redis and Memcached exit at once on SIGTERM; this only bounds a wedged one.
    private const uint StopGraceSeconds = 5;

    // 0644, owned by root (the archive's 0:0): readable by whatever user the process runs as.
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    private static readonly string[] WatchedActions = ["start", "die", "oom", "kill", "stop", "destroy"];

    // An engine creates and starts containers largely one after another: hundreds asked at once (a
    // 250-node cluster) queue inside it until RequestTimeout cuts the late ones, and the create
    // fails. A few at a time keep the engine as busy and every request short.
    private const int ConcurrentRuns = 8;
    private readonly SemaphoreSlim _runs = new(ConcurrentRuns, ConcurrentRuns);

    private readonly DockerClient _client;
    // File transfers (a snapshot can take minutes) must not be cut by RequestTimeout, which the
    // library applies to a whole request, upload included; the caller's token bounds them instead.
    private readonly DockerClient _transfers;
    private readonly TimeProvider _time;
    private readonly ILogger<DockerNodeRuntime> _logger;

    /// <param name="tls">Mutual TLS for an engine reached over TCP; required there (never plain TCP), unused for a unix socket.</param>
    public DockerNodeRuntime(string zone, Uri endpoint, TimeProvider time, ILogger<DockerNodeRuntime> logger, DockerMutualTls? tls = null)
    {
        if (DockerMutualTls.IsNetwork(endpoint) && tls is null)
            throw new ArgumentException($"Zone {zone}: {endpoint} is a TCP engine; it is only used with mutual TLS (DockerCertPath).", nameof(tls));
        Zone = zone;
        _time = time;
        _logger = logger;
        _client = Builder(endpoint, tls).WithTimeout(RequestTimeout).Build();
        _transfers = Builder(endpoint, tls).WithTimeout(Timeout.InfiniteTimeSpan).Build();
    }

    private static DockerClientBuilder Builder(Uri endpoint, DockerMutualTls? tls)
    {
        var builder = new DockerClientBuilder().WithEndpoint(endpoint);
        // The native transport (SocketsHttpHandler) is the one whose TLS options take a client certificate.
        return tls is null || !DockerMutualTls.IsNetwork(endpoint)
            ? builder
            : builder.WithAuthProvider(tls).WithTransportOptions(new Docker.DotNet.NativeHttp.NativeHttpTransportOptions());
    }

    public string Zone { get; }

    public Task PingAsync(CancellationToken ct) => GuardAsync(() => _client.System.PingAsync(ct), ct);

    public Task<IReadOnlyList<ContainerInfo>> ListAsync(CancellationToken ct) => GuardAsync<IReadOnlyList<ContainerInfo>>(async () =>
    {
        var containers = await _client.Containers.ListContainersAsync(
            new ContainersListParameters { All = true, Filters = ManagedFilter() }, ct);
        return containers.Select(ToInfo).ToList();
    }, ct);

    public Task<ContainerInfo?> FindAsync(string name, CancellationToken ct) => GuardAsync(async () =>
    {
        var filters = ManagedFilter();
        filters["name"] = new Dictionary<string, bool> { [$"^/{name}$"] = true };
        var containers = await _client.Containers.ListContainersAsync(new ContainersListParameters { All = true, Filters = filters }, ct);
        return containers.Select(ToInfo).FirstOrDefault(c => c.Name == name);
    }, ct);

    public Task<string> RunAsync(ContainerSpec spec, CancellationToken ct) => GuardAsync(() => RunLimitedAsync(spec, ct), ct);

    private async Task<string> RunLimitedAsync(ContainerSpec spec, CancellationToken ct)
    {
        await _runs.WaitAsync(ct);
        try
        {
            return await CreateAndStartAsync(spec, ct);
        }
        finally
        {
            _runs.Release();
        }
    }

    private async Task<string> CreateAndStartAsync(ContainerSpec spec, CancellationToken ct)
    {
        // Two passes at most: the second one only after another actor created the same name between
        // our inspect and our create (409), so that its container is judged like any existing one.
        for (var attempt = 0; ; attempt++)
        {
            var existing = await InspectOrNullAsync(spec.Name, ct);
            if (existing is not null)
            {
                EnsureOurs(existing, spec);
                if (existing.State?.Running == true)
                    return existing.ID;
                // A stopped node must not come back with the role and data it had (a stale primary
                // would take over its replicas); it is replaced by a fresh container that the
                // reconciler then wires as it sees fit.
                LogReplacingStopped(_logger, Zone, spec.Name, existing.State?.Status ?? "unknown");
                await RemoveCoreAsync(existing.ID, ct);
            }

            CreateContainerResponse created;
            try
            {
                created = await _client.Containers.CreateContainerAsync(ContainerSpecMapper.ToCreateParameters(spec), ct);
            }
            catch (DockerApiException e) when (e.StatusCode == HttpStatusCode.Conflict && attempt == 0)
            {
                continue;
            }
            // A failure between create and start leaves a container that is not running; the next
            // run replaces it like any stopped one.
            // One archive per folder, extracted there: the root file system is read-only, and the
            // engine copies into a volume (the mapper makes one of each such folder) only when the
            // archive's destination itself is in it.
            foreach (var folder in (spec.Files ?? new Dictionary<string, string>()).GroupBy(f => FolderOf(f.Key)))
                await CopyFilesAsync(created.ID, folder.Key, folder.ToDictionary(f => f.Key, f => f.Value), ct);
            foreach (var folder in (spec.Seeds ?? []).GroupBy(s => FolderOf(s.ContainerPath)))
                await CopySeedsAsync(created.ID, folder.Key, folder.ToList(), ct);
            await _client.Containers.StartContainerAsync(created.ID, new ContainerStartParameters(), ct);
            LogStarted(_logger, Zone, spec.Name, created.ID);
            return created.ID;
        }
    }

    public Task<bool> RemoveAsync(string nameOrId, CancellationToken ct) => GuardAsync(() => RemoveCoreAsync(nameOrId, ct), ct);

    private async Task<bool> RemoveCoreAsync(string nameOrId, CancellationToken ct)
    {
        try
        {
            await _client.Containers.RemoveContainerAsync(
                nameOrId, new ContainerRemoveParameters { Force = true, RemoveVolumes = true }, ct);
            LogRemoved(_logger, Zone, nameOrId);
            return true;
        }
        catch (Exception e) when (IsNotFound(e))
        {
            return false;
        }
    }

    public Task UpdateLimitsAsync(string nameOrId, long memoryBytes, double cpus, CancellationToken ct) =>
        GuardAsync(() => _client.Containers.UpdateContainerAsync(nameOrId, new ContainerUpdateParameters
        {
            Memory = memoryBytes,
            MemorySwap = memoryBytes,
            NanoCPUs = (long)Math.Round(cpus * 1_000_000_000),
        }, ct), ct);

    public Task StopAsync(string nameOrId, CancellationToken ct) => GuardAsync(() => StopCoreAsync(nameOrId, ct), ct);

    private async Task StopCoreAsync(string nameOrId, CancellationToken ct)
    {
        try
        {
            // False means it was already stopped, which is what we want.
            await _client.Containers.StopContainerAsync(
                nameOrId, new ContainerStopParameters { WaitBeforeKillSeconds = StopGraceSeconds }, ct);
        }
        catch (Exception e) when (IsNotFound(e))
        {
            // Gone is stopped enough.
        }
    }

    public Task<bool> SignalAsync(string nameOrId, string signal, CancellationToken ct) => GuardAsync(() => SignalCoreAsync(nameOrId, signal, ct), ct);

    private async Task<bool> SignalCoreAsync(string nameOrId, string signal, CancellationToken ct)
    {
        try
        {
            await _client.Containers.KillContainerAsync(nameOrId, new ContainerKillParameters { Signal = signal }, ct);
            return true;
        }
        catch (DockerApiException e) when (e.StatusCode is System.Net.HttpStatusCode.NotFound or System.Net.HttpStatusCode.Conflict)
        {
            // Gone, or not running: nothing left to signal.
            return false;
        }
    }

    public Task RestartAsync(string nameOrId, IReadOnlyDictionary<string, string>? files, CancellationToken ct) =>
        GuardAsync(() => RestartCoreAsync(nameOrId, files, ct), ct);

    private async Task RestartCoreAsync(string nameOrId, IReadOnlyDictionary<string, string>? files, CancellationToken ct)
    {
        await _client.Containers.StopContainerAsync(nameOrId, new ContainerStopParameters { WaitBeforeKillSeconds = StopGraceSeconds }, ct);
        foreach (var folder in (files ?? new Dictionary<string, string>()).GroupBy(f => FolderOf(f.Key)))
            await CopyFilesAsync(nameOrId, folder.Key, folder.ToDictionary(f => f.Key, f => f.Value), ct);
        await _client.Containers.StartContainerAsync(nameOrId, new ContainerStartParameters(), ct);
        LogRestarted(_logger, Zone, nameOrId);
    }

    public async IAsyncEnumerable<ContainerEvent> EventsAsync([EnumeratorCancellation] CancellationToken ct)
    {
        // "since" the moment of the call: an event that happens while the request is on its way is
        // still delivered, so a caller that subscribes and then acts does not miss the outcome.
        var since = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var parameters = new ContainerEventsParameters
        {
            Since = string.Create(CultureInfo.InvariantCulture, $"{since / 1000}.{since % 1000:D3}"),
            Filters = ManagedFilter(),
        };
        parameters.Filters["type"] = new Dictionary<string, bool> { ["container"] = true };
        parameters.Filters["event"] = WatchedActions.ToDictionary(a => a, _ => true);

        var channel = Channel.CreateUnbounded<Message>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var pump = PumpEventsAsync(parameters, channel.Writer, stop.Token);
        try
        {
            await foreach (var message in channel.Reader.ReadAllAsync(ct))
                yield return ToEvent(message);
        }
        finally
        {
            await stop.CancelAsync();
            await pump;
        }
    }

    public Task<Stream> ReadFileAsync(string containerName, string path, CancellationToken ct) =>
        GuardAsync(() => ReadFileCoreAsync(containerName, path, ct), ct);

    private async Task<Stream> ReadFileCoreAsync(string containerName, string path, CancellationToken ct)
    {
        _ = FolderOf(path);
        ContainerArchiveResponse archive;
        // The engine answers at once and then streams: only the wait for its answer is bounded here.
        using (var answer = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            answer.CancelAfter(RequestTimeout);
            try
            {
                archive = await _transfers.Containers.GetArchiveFromContainerAsync(
                    containerName, new ContainerPathStatParameters { Path = path }, statOnly: false, answer.Token);
            }
            catch (Exception e) when (IsNotFound(e))
            {
                // One 404 for both a missing container and a missing path: tell them apart.
                if (await InspectOrNullAsync(containerName, ct) is null)
                    throw;
                throw new FileNotFoundException($"Container {containerName} has no file {path}.", path, e);
            }
            catch (OperationCanceledException e) when (answer.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                throw new TimeoutException($"{Zone}: the engine did not answer within {RequestTimeout.TotalSeconds:0} s for {path} in {containerName}.", e);
            }
        }

        var body = archive.Stream ?? throw new InvalidOperationException($"The engine sent no archive of {path} in {containerName}.");
        TarReader? reader = null;
        try
        {
            reader = new TarReader(new ResponseBodyStream(body), leaveOpen: false);
            // Without copyData the entry's DataStream reads straight from the response.
            var entry = await reader.GetNextEntryAsync(copyData: false, ct);
            if (entry is null)
                throw new FileNotFoundException($"The archive of {path} in {containerName} is empty.", path);
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile))
                throw new IOException($"{path} in {containerName} is not a regular file but a {entry.EntryType} entry.");
            return new TarEntryStream(reader, entry.DataStream ?? Stream.Null);
        }
        catch
        {
            if (reader is not null)
                await reader.DisposeAsync();
            else
                await body.DisposeAsync();
            throw;
        }
    }

    public void Dispose()
    {
        _client.Dispose();
        _transfers.Dispose();
    }

    private async Task PumpEventsAsync(ContainerEventsParameters parameters, ChannelWriter<Message> writer, CancellationToken ct)
    {
        Exception? failure = null;
        try
        {
            await _client.System.MonitorEventsAsync(parameters, new ChannelProgress(writer), ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // Handed to the reader: the caller sees the stream fail and reconnects.
            LogEventsFailed(_logger, Zone, e.Message);
            failure = RuntimeErrors.Translate(Zone, e, ct) ?? e;
        }
        writer.TryComplete(failure);
    }

    private ContainerEvent ToEvent(Message message)
    {
        var attributes = message.Actor?.Attributes ?? new Dictionary<string, string>();
        // Actor attributes mix the container's labels with name, image and exitCode; keep ours.
        var labels = attributes.Where(a => a.Key.StartsWith("controlplane.", StringComparison.Ordinal))
            .ToDictionary(a => a.Key, a => a.Value);
        return new ContainerEvent(Zone, message.Action, message.Actor?.ID ?? "", labels);
    }

    public Task WriteFilesAsync(string containerName, IReadOnlyDictionary<string, string> files, CancellationToken ct) => GuardAsync(async () =>
    {
        foreach (var folder in files.GroupBy(f => FolderOf(f.Key)))
            await CopyFilesAsync(containerName, folder.Key, folder.ToDictionary(f => f.Key, f => f.Value), ct);
    }, ct);

    // Every call of the port goes through one of these: Docker.DotNet's exceptions stop in this folder.
    private async Task<T> GuardAsync<T>(Func<Task<T>> call, CancellationToken ct)
    {
        try
        {
            return await call();
        }
        catch (Exception e) when (RuntimeErrors.Translate(Zone, e, ct) is { } translated)
        {
            throw translated;
        }
    }

    private async Task GuardAsync(Func<Task> call, CancellationToken ct)
    {
        try
        {
            await call();
        }
        catch (Exception e) when (RuntimeErrors.Translate(Zone, e, ct) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>
    /// One tar archive extracted in the files' folder, which exists (a volume). It holds only the
    /// files: an entry for the folder would reset its mode (/data's 1777).
    /// </summary>
    private async Task CopyFilesAsync(string containerId, string folder, IReadOnlyDictionary<string, string> files, CancellationToken ct)
    {
        using var archive = new MemoryStream();
        await using (var writer = new TarWriter(archive, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var (path, content) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                var entry = new PaxTarEntry(TarEntryType.RegularFile, Path.GetFileName(path))
                {
                    Mode = FileMode,
                    DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)),
                };
                await writer.WriteEntryAsync(entry, ct);
            }
        }
        archive.Position = 0;
        await _client.Containers.ExtractArchiveToContainerAsync(
            containerId, new CopyToContainerParameters { Path = folder }, archive, ct);
    }

    /// <summary>
    /// One tar archive streamed to the engine while it is written: a pipe between the writer and the
    /// request body, so no seed is held in memory. The writer needs each entry's length before its
    /// content; a seed whose stream cannot tell it is spooled to a temporary file first.
    /// </summary>
    private async Task CopySeedsAsync(string containerId, string folder, IReadOnlyList<SeedFile> seeds, CancellationToken ct)
    {
        var paths = seeds.Select(s => Path.GetFileName(s.ContainerPath)).ToList();
        var pipe = new Pipe();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var writing = Task.Run(() => WriteSeedArchiveAsync(seeds, paths, pipe.Writer, stop.Token), CancellationToken.None);
        Exception? uploadFailure = null;
        try
        {
            await _transfers.Containers.ExtractArchiveToContainerAsync(
                containerId, new CopyToContainerParameters { Path = folder }, pipe.Reader.AsStream(leaveOpen: true), ct);
        }
        catch (Exception e)
        {
            uploadFailure = e;
            // The writer must not go on reading a large seed that nobody sends.
            await stop.CancelAsync();
        }
        finally
        {
            await pipe.Reader.CompleteAsync();
        }

        // The writer's failure (a seed that cannot be opened or read) is the cause; the upload's
        // broken body is only its consequence.
        try
        {
            await writing;
        }
        catch (OperationCanceledException) when (uploadFailure is not null && !ct.IsCancellationRequested)
        {
        }
        if (uploadFailure is not null)
            ExceptionDispatchInfo.Throw(uploadFailure);
    }

    private static async Task WriteSeedArchiveAsync(
        IReadOnlyList<SeedFile> seeds, IReadOnlyList<string> paths, PipeWriter output, CancellationToken ct)
    {
        Exception? failure = null;
        try
        {
            await using var archive = output.AsStream(leaveOpen: true);
            await using var writer = new TarWriter(archive, TarEntryFormat.Pax, leaveOpen: true);
            for (var i = 0; i < seeds.Count; i++)
            {
                await using var content = await OpenSizedAsync(seeds[i], ct);
                // Owned by the node's user: Redis replaces its dump.rdb by a rename, refused in a sticky folder for a root-owned file.
                var entry = new PaxTarEntry(TarEntryType.RegularFile, paths[i])
                {
                    Mode = FileMode, Uid = ContainerSpecMapper.UserId, Gid = ContainerSpecMapper.UserId, DataStream = content,
                };
                await writer.WriteEntryAsync(entry, ct);
            }
        }
        catch (Exception e)
        {
            failure = e;
        }
        await output.CompleteAsync(failure);
        if (failure is not null)
            ExceptionDispatchInfo.Throw(failure);
    }

    private static async Task<Stream> OpenSizedAsync(SeedFile seed, CancellationToken ct)
    {
        var content = await seed.Open(ct);
        if (content.CanSeek)
            return content;
        await using (content)
        {
            var spool = new FileStream(Path.GetTempFileName(), System.IO.FileMode.Open, FileAccess.ReadWrite, FileShare.None,
                bufferSize: 81920, FileOptions.Asynchronous | FileOptions.DeleteOnClose);
            try
            {
                await content.CopyToAsync(spool, ct);
                spool.Position = 0;
                return spool;
            }
            catch
            {
                await spool.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>The folder a file goes to ("/data" for "/data/dump.rdb"); it must exist in the container.</summary>
    private static string FolderOf(string path)
    {
        var parts = path.Split('/');
        if (parts.Length < 2 || parts[0] != "" || parts[1..].Any(part => part is "" or "." or ".."))
            throw new ArgumentException($"A container file path must be absolute and name a file: '{path}'.", nameof(path));
        return "/" + string.Join('/', parts[1..^1]);
    }

    private async Task<ContainerInspectResponse?> InspectOrNullAsync(string nameOrId, CancellationToken ct)
    {
        try
        {
            return await _client.Containers.InspectContainerAsync(nameOrId, ct);
        }
        catch (Exception e) when (IsNotFound(e))
        {
            return null;
        }
    }

    // A name clash with a container that is not ours, or ours from another spec, is the caller's
    // mistake to fix (remove first); silently keeping or destroying it would hide it.
    private static void EnsureOurs(ContainerInspectResponse existing, ContainerSpec spec)
    {
        var labels = existing.Config?.Labels ?? new Dictionary<string, string>();
        if (!labels.TryGetValue(Labels.Managed, out var managed) || managed != "true")
            throw new InvalidOperationException($"Container {spec.Name} exists and is not managed by the control plane.");
        if (spec.Labels.TryGetValue(Labels.SpecHash, out var wanted)
            && (!labels.TryGetValue(Labels.SpecHash, out var actual) || actual != wanted))
            throw new InvalidOperationException($"Container {spec.Name} exists with another spec hash; remove it before running the new spec.");
    }

    private static ContainerInfo ToInfo(ContainerListResponse c)
    {
        var name = c.Names?.FirstOrDefault()?.TrimStart('/') ?? c.ID;
        var labels = c.Labels is null ? new Dictionary<string, string>() : new Dictionary<string, string>(c.Labels);
        // The list call has no exit code field; its status text does ("Exited (137) 5 seconds ago").
        var exit = ExitedStatus().Match(c.Status ?? "");
        long? exitCode = exit.Success ? long.Parse(exit.Groups[1].Value, CultureInfo.InvariantCulture) : null;
        return new ContainerInfo(c.ID, name, labels, c.State == "running", c.State ?? "", exitCode);
    }

    private static IDictionary<string, IDictionary<string, bool>> ManagedFilter() =>
        new Dictionary<string, IDictionary<string, bool>>
        {
            ["label"] = new Dictionary<string, bool> { [$"{Labels.Managed}=true"] = true },
        };

    private static bool IsNotFound(Exception e) =>
        e is DockerContainerNotFoundException or DockerApiException { StatusCode: HttpStatusCode.NotFound };

    [GeneratedRegex(@"^Exited \((-?\d+)\)")]
    private static partial Regex ExitedStatus();

    /// <summary>A forward-only read stream over another; disposing it disposes what it owns.</summary>
    private abstract class ReadOnlyStream<TOwned>(TOwned owned) : Stream where TOwned : IDisposable, IAsyncDisposable
    {
        protected TOwned Owned => owned;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                owned.Dispose();
            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await owned.DisposeAsync();
            await base.DisposeAsync();
        }
    }

    /// <summary>One tar entry's content, read from the engine's response; disposing it closes the response.</summary>
    private sealed class TarEntryStream(TarReader reader, Stream content) : ReadOnlyStream<TarReader>(reader)
    {
        public override int Read(byte[] buffer, int offset, int count) => content.Read(buffer, offset, count);
        public override int Read(Span<byte> buffer) => content.Read(buffer);
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            content.ReadAsync(buffer, offset, count, cancellationToken);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            content.ReadAsync(buffer, cancellationToken);
    }

    /// <summary>
    /// The engine's chunked response as TarReader needs it: Docker.DotNet's stream fails a read of zero
    /// bytes (EndOfStreamException), which the tar entry's stream makes at its end, and every
    /// synchronous read (NotSupportedException).
    /// </summary>
    private sealed class ResponseBodyStream(Stream inner) : ReadOnlyStream<Stream>(inner)
    {
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (buffer.IsEmpty)
                return 0;
            // Only for a caller that insists on reading synchronously; every reader here is async.
            var chunk = new byte[buffer.Length];
            var read = Owned.ReadAsync(chunk, 0, chunk.Length, CancellationToken.None).GetAwaiter().GetResult();
            chunk.AsSpan(0, read).CopyTo(buffer);
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            buffer.IsEmpty ? ValueTask.FromResult(0) : Owned.ReadAsync(buffer, cancellationToken);
    }

    /// <summary>Writes in the engine's order: Progress&lt;T&gt; would post each message to the thread pool and could reorder them.</summary>
    private sealed class ChannelProgress(ChannelWriter<Message> writer) : IProgress<Message>
    {
        public void Report(Message value) => writer.TryWrite(value);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Zone}: started container {Name} ({Id})")]
    private static partial void LogStarted(ILogger logger, string zone, string name, string id);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Zone}: restarted container {NameOrId} in place")]
    private static partial void LogRestarted(ILogger logger, string zone, string nameOrId);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Zone}: removed container {NameOrId}")]
    private static partial void LogRemoved(ILogger logger, string zone, string nameOrId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Zone}: container {Name} exists but is {Status}; replacing it with a fresh one")]
    private static partial void LogReplacingStopped(ILogger logger, string zone, string name, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Zone}: the container event stream failed: {Reason}")]
    private static partial void LogEventsFailed(ILogger logger, string zone, string reason);
}
