using System;
using System.Collections.Generic;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace ControlPlane.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "cache_clusters",
                columns: table => new
                {
                    Id = table.Column<string>(type: "character varying(50)", maxLength: 50, nullable: false),
                    Engine = table.Column<string>(type: "text", nullable: false),
                    EngineVersion = table.Column<string>(type: "text", nullable: false),
                    NodeType = table.Column<string>(type: "text", nullable: false),
                    NumNodes = table.Column<int>(type: "integer", nullable: false),
                    AzMode = table.Column<string>(type: "text", nullable: false),
                    PreferredAvailabilityZones = table.Column<List<string>>(type: "text[]", nullable: true),
                    Status = table.Column<string>(type: "text", nullable: false),
                    PendingChanges = table.Column<string>(type: "text", nullable: true),
                    Generation = table.Column<long>(type: "bigint", nullable: false),
                    ObservedGeneration = table.Column<long>(type: "bigint", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    UpdatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    ExpiresAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    xmin = table.Column<uint>(type: "xid", rowVersion: true, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_cache_clusters", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "events",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    Time = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    SourceType = table.Column<string>(type: "text", nullable: false),
                    SourceId = table.Column<string>(type: "text", nullable: false),
                    Message = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_events", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "idempotency_keys",
                columns: table => new
                {
                    Key = table.Column<string>(type: "text", nullable: false),
                    RequestHash = table.Column<string>(type: "text", nullable: false),
                    StatusCode = table.Column<int>(type: "integer", nullable: false),
                    ResponseBody = table.Column<string>(type: "text", nullable: false),
                    Location = table.Column<string>(type: "text", nullable: true),
                    ETag = table.Column<string>(type: "text", nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_idempotency_keys", x => x.Key);
                });

            migrationBuilder.CreateTable(
                name: "replication_groups",
                columns: table => new
                {
                    Id = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    Description = table.Column<string>(type: "character varying(255)", maxLength: 255, nullable: false),
                    EngineVersion = table.Column<string>(type: "text", nullable: false),
                    NodeType = table.Column<string>(type: "text", nullable: false),
                    ClusterMode = table.Column<string>(type: "text", nullable: false),
                    NumShards = table.Column<int>(type: "integer", nullable: false),
                    ReplicasPerShard = table.Column<int>(type: "integer", nullable: false),
                    AutomaticFailover = table.Column<bool>(type: "boolean", nullable: false),
                    MultiAz = table.Column<bool>(type: "boolean", nullable: false),
                    TransitEncryption = table.Column<bool>(type: "boolean", nullable: false),
                    AuthTokenHash = table.Column<string>(type: "text", nullable: true),
                    SnapshotRetentionLimit = table.Column<int>(type: "integer", nullable: false),
                    SnapshotWindow = table.Column<string>(type: "text", nullable: true),
                    RestoreFromSnapshot = table.Column<string>(type: "text", nullable: true),
                    FinalSnapshotName = table.Column<string>(type: "text", nullable: true),
                    Status = table.Column<string>(type: "text", nullable: false),
                    PendingChanges = table.Column<string>(type: "text", nullable: true),
                    Generation = table.Column<long>(type: "bigint", nullable: false),
                    ObservedGeneration = table.Column<long>(type: "bigint", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    UpdatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    ExpiresAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    xmin = table.Column<uint>(type: "xid", rowVersion: true, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_replication_groups", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "snapshots",
                columns: table => new
                {
                    Name = table.Column<string>(type: "text", nullable: false),
                    ReplicationGroupId = table.Column<string>(type: "text", nullable: false),
                    Status = table.Column<string>(type: "text", nullable: false),
                    Source = table.Column<string>(type: "text", nullable: false),
                    ClusterMode = table.Column<string>(type: "text", nullable: false),
                    EngineVersion = table.Column<string>(type: "text", nullable: false),
                    NodeType = table.Column<string>(type: "text", nullable: false),
                    NumShards = table.Column<int>(type: "integer", nullable: false),
                    CopiedFrom = table.Column<string>(type: "text", nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    xmin = table.Column<uint>(type: "xid", rowVersion: true, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_snapshots", x => x.Name);
                });

            migrationBuilder.CreateTable(
                name: "test_failovers",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    ReplicationGroupId = table.Column<string>(type: "text", nullable: false),
                    ShardId = table.Column<string>(type: "text", nullable: false),
                    RequestedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    CompletedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_test_failovers", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "cache_nodes",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    CacheClusterId = table.Column<string>(type: "character varying(50)", nullable: false),
                    AvailabilityZone = table.Column<string>(type: "text", nullable: false),
                    Status = table.Column<string>(type: "text", nullable: false),
                    Host = table.Column<string>(type: "text", nullable: true),
                    Port = table.Column<int>(type: "integer", nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_cache_nodes", x => x.Id);
                    table.ForeignKey(
                        name: "FK_cache_nodes_cache_clusters_CacheClusterId",
                        column: x => x.CacheClusterId,
                        principalTable: "cache_clusters",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "shards",
                columns: table => new
                {
                    ReplicationGroupId = table.Column<string>(type: "character varying(40)", nullable: false),
                    Id = table.Column<string>(type: "text", nullable: false),
                    Slots = table.Column<string>(type: "text", nullable: false),
                    Status = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_shards", x => new { x.ReplicationGroupId, x.Id });
                    table.ForeignKey(
                        name: "FK_shards_replication_groups_ReplicationGroupId",
                        column: x => x.ReplicationGroupId,
                        principalTable: "replication_groups",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "snapshot_files",
                columns: table => new
                {
                    SnapshotName = table.Column<string>(type: "text", nullable: false),
                    ShardId = table.Column<string>(type: "text", nullable: false),
                    Slots = table.Column<string>(type: "text", nullable: false),
                    SizeBytes = table.Column<long>(type: "bigint", nullable: false),
                    Sha256 = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_snapshot_files", x => new { x.SnapshotName, x.ShardId });
                    table.ForeignKey(
                        name: "FK_snapshot_files_snapshots_SnapshotName",
                        column: x => x.SnapshotName,
                        principalTable: "snapshots",
                        principalColumn: "Name",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "redis_nodes",
                columns: table => new
                {
                    Id = table.Column<string>(type: "text", nullable: false),
                    ReplicationGroupId = table.Column<string>(type: "character varying(40)", nullable: false),
                    ShardId = table.Column<string>(type: "text", nullable: false),
                    Role = table.Column<string>(type: "text", nullable: false),
                    AvailabilityZone = table.Column<string>(type: "text", nullable: false),
                    Status = table.Column<string>(type: "text", nullable: false),
                    Host = table.Column<string>(type: "text", nullable: true),
                    Port = table.Column<int>(type: "integer", nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_redis_nodes", x => x.Id);
                    table.ForeignKey(
                        name: "FK_redis_nodes_shards_ReplicationGroupId_ShardId",
                        columns: x => new { x.ReplicationGroupId, x.ShardId },
                        principalTable: "shards",
                        principalColumns: new[] { "ReplicationGroupId", "Id" },
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_cache_clusters_ExpiresAt",
                table: "cache_clusters",
                column: "ExpiresAt");

            migrationBuilder.CreateIndex(
                name: "IX_cache_nodes_CacheClusterId",
                table: "cache_nodes",
                column: "CacheClusterId");

            migrationBuilder.CreateIndex(
                name: "IX_events_SourceType_SourceId_Time",
                table: "events",
                columns: new[] { "SourceType", "SourceId", "Time" });

            migrationBuilder.CreateIndex(
                name: "IX_events_Time_Id",
                table: "events",
                columns: new[] { "Time", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_redis_nodes_ReplicationGroupId_ShardId",
                table: "redis_nodes",
                columns: new[] { "ReplicationGroupId", "ShardId" });

            migrationBuilder.CreateIndex(
                name: "IX_replication_groups_ExpiresAt",
                table: "replication_groups",
                column: "ExpiresAt");

            migrationBuilder.CreateIndex(
                name: "IX_snapshots_ReplicationGroupId",
                table: "snapshots",
                column: "ReplicationGroupId");

            migrationBuilder.CreateIndex(
                name: "IX_test_failovers_ReplicationGroupId_RequestedAt",
                table: "test_failovers",
                columns: new[] { "ReplicationGroupId", "RequestedAt" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "cache_nodes");

            migrationBuilder.DropTable(
                name: "events");

            migrationBuilder.DropTable(
                name: "idempotency_keys");

            migrationBuilder.DropTable(
                name: "redis_nodes");

            migrationBuilder.DropTable(
                name: "snapshot_files");

            migrationBuilder.DropTable(
                name: "test_failovers");

            migrationBuilder.DropTable(
                name: "cache_clusters");

            migrationBuilder.DropTable(
                name: "shards");

            migrationBuilder.DropTable(
                name: "snapshots");

            migrationBuilder.DropTable(
                name: "replication_groups");
        }
    }
}
