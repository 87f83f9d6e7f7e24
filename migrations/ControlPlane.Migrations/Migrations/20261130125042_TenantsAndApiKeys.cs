using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ControlPlane.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class TenantsAndApiKeys : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "Tenant",
                table: "snapshots",
                type: "character varying(20)",
                maxLength: 20,
                nullable: false,
                defaultValue: "default");

            migrationBuilder.AlterColumn<string>(
                name: "ReplicationGroupId",
                table: "slot_moves",
                type: "character varying(62)",
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(40)");

            migrationBuilder.AlterColumn<string>(
                name: "ReplicationGroupId",
                table: "shards",
                type: "character varying(62)",
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(40)");

            migrationBuilder.AlterColumn<string>(
                name: "Id",
                table: "replication_groups",
                type: "character varying(62)",
                maxLength: 62,
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(40)",
                oldMaxLength: 40);

            migrationBuilder.AddColumn<string>(
                name: "Tenant",
                table: "replication_groups",
                type: "character varying(20)",
                maxLength: 20,
                nullable: false,
                defaultValue: "default");

            migrationBuilder.AlterColumn<string>(
                name: "ReplicationGroupId",
                table: "redis_nodes",
                type: "character varying(62)",
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(40)");

            migrationBuilder.AddColumn<string>(
                name: "Principal",
                table: "events",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Tenant",
                table: "events",
                type: "character varying(20)",
                maxLength: 20,
                nullable: false,
                defaultValue: "default");

            migrationBuilder.AlterColumn<string>(
                name: "CacheClusterId",
                table: "cache_nodes",
                type: "character varying(72)",
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(50)");

            migrationBuilder.AlterColumn<string>(
                name: "Id",
                table: "cache_clusters",
                type: "character varying(72)",
                maxLength: 72,
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(50)",
                oldMaxLength: 50);

            migrationBuilder.AddColumn<string>(
                name: "Tenant",
                table: "cache_clusters",
                type: "character varying(20)",
                maxLength: 20,
                nullable: false,
                defaultValue: "default");

            migrationBuilder.CreateTable(
                name: "api_keys",
                columns: table => new
                {
                    KeyId = table.Column<string>(type: "text", nullable: false),
                    Name = table.Column<string>(type: "text", nullable: false),
                    Role = table.Column<string>(type: "text", nullable: false),
                    Tenant = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    SecretHash = table.Column<string>(type: "text", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    RevokedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_api_keys", x => x.KeyId);
                });

            migrationBuilder.CreateIndex(
                name: "IX_snapshots_Tenant_Name",
                table: "snapshots",
                columns: new[] { "Tenant", "Name" });

            migrationBuilder.CreateIndex(
                name: "IX_replication_groups_Tenant_Id",
                table: "replication_groups",
                columns: new[] { "Tenant", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_events_Tenant_Id",
                table: "events",
                columns: new[] { "Tenant", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_cache_clusters_Tenant_Id",
                table: "cache_clusters",
                columns: new[] { "Tenant", "Id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "api_keys");

            migrationBuilder.DropIndex(
                name: "IX_snapshots_Tenant_Name",
                table: "snapshots");

            migrationBuilder.DropIndex(
                name: "IX_replication_groups_Tenant_Id",
                table: "replication_groups");

            migrationBuilder.DropIndex(
                name: "IX_events_Tenant_Id",
                table: "events");

            migrationBuilder.DropIndex(
                name: "IX_cache_clusters_Tenant_Id",
                table: "cache_clusters");

            migrationBuilder.DropColumn(
                name: "Tenant",
                table: "snapshots");

            migrationBuilder.DropColumn(
                name: "Tenant",
                table: "replication_groups");

            migrationBuilder.DropColumn(
                name: "Principal",
                table: "events");

            migrationBuilder.DropColumn(
                name: "Tenant",
                table: "events");

            migrationBuilder.DropColumn(
                name: "Tenant",
                table: "cache_clusters");

            migrationBuilder.AlterColumn<string>(
                name: "ReplicationGroupId",
                table: "slot_moves",
                type: "character varying(40)",
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(62)");

            migrationBuilder.AlterColumn<string>(
                name: "ReplicationGroupId",
                table: "shards",
                type: "character varying(40)",
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(62)");

            migrationBuilder.AlterColumn<string>(
                name: "Id",
                table: "replication_groups",
                type: "character varying(40)",
                maxLength: 40,
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(62)",
                oldMaxLength: 62);

            migrationBuilder.AlterColumn<string>(
                name: "ReplicationGroupId",
                table: "redis_nodes",
                type: "character varying(40)",
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(62)");

            migrationBuilder.AlterColumn<string>(
                name: "CacheClusterId",
                table: "cache_nodes",
                type: "character varying(50)",
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(72)");

            migrationBuilder.AlterColumn<string>(
                name: "Id",
                table: "cache_clusters",
                type: "character varying(50)",
                maxLength: 50,
                nullable: false,
                oldClrType: typeof(string),
                oldType: "character varying(72)",
                oldMaxLength: 72);
        }
    }
}
