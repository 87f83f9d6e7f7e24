using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ControlPlane.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class Engines : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "Engine",
                table: "snapshots",
                type: "text",
                nullable: false,
                defaultValue: "redis");

            migrationBuilder.AddColumn<string>(
                name: "Engine",
                table: "replication_groups",
                type: "text",
                nullable: false,
                defaultValue: "redis");

            migrationBuilder.AddColumn<string>(
                name: "ParameterGroupName",
                table: "replication_groups",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "PreferredMaintenanceWindow",
                table: "replication_groups",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "ScheduledAt",
                table: "replication_groups",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "ScheduledChanges",
                table: "replication_groups",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Engine",
                table: "redis_nodes",
                type: "text",
                nullable: false,
                defaultValue: "redis");

            migrationBuilder.AddColumn<string>(
                name: "EngineVersion",
                table: "redis_nodes",
                type: "text",
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "ParameterGroupStatus",
                table: "redis_nodes",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "ParameterGroupStatus",
                table: "cache_nodes",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "DiscoveryHost",
                table: "cache_clusters",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "DiscoveryPort",
                table: "cache_clusters",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "ParameterGroupName",
                table: "cache_clusters",
                type: "text",
                nullable: true);

            // Nodes from before per-node engines run their group's version.
            migrationBuilder.Sql("""UPDATE redis_nodes AS n SET "EngineVersion" = g."EngineVersion" FROM replication_groups AS g WHERE g."Id" = n."ReplicationGroupId";""");

            migrationBuilder.CreateTable(
                name: "parameter_groups",
                columns: table => new
                {
                    Name = table.Column<string>(type: "text", nullable: false),
                    Tenant = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false, defaultValue: "default"),
                    Family = table.Column<string>(type: "text", nullable: false),
                    Description = table.Column<string>(type: "text", nullable: false),
                    Values = table.Column<string>(type: "jsonb", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    UpdatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    xmin = table.Column<uint>(type: "xid", rowVersion: true, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_parameter_groups", x => x.Name);
                });

            migrationBuilder.CreateIndex(
                name: "IX_parameter_groups_Tenant_Name",
                table: "parameter_groups",
                columns: new[] { "Tenant", "Name" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "parameter_groups");

            migrationBuilder.DropColumn(
                name: "Engine",
                table: "snapshots");

            migrationBuilder.DropColumn(
                name: "Engine",
                table: "replication_groups");

            migrationBuilder.DropColumn(
                name: "ParameterGroupName",
                table: "replication_groups");

            migrationBuilder.DropColumn(
                name: "PreferredMaintenanceWindow",
                table: "replication_groups");

            migrationBuilder.DropColumn(
                name: "ScheduledAt",
                table: "replication_groups");

            migrationBuilder.DropColumn(
                name: "ScheduledChanges",
                table: "replication_groups");

            migrationBuilder.DropColumn(
                name: "Engine",
                table: "redis_nodes");

            migrationBuilder.DropColumn(
                name: "EngineVersion",
                table: "redis_nodes");

            migrationBuilder.DropColumn(
                name: "ParameterGroupStatus",
                table: "redis_nodes");

            migrationBuilder.DropColumn(
                name: "ParameterGroupStatus",
                table: "cache_nodes");

            migrationBuilder.DropColumn(
                name: "DiscoveryHost",
                table: "cache_clusters");

            migrationBuilder.DropColumn(
                name: "DiscoveryPort",
                table: "cache_clusters");

            migrationBuilder.DropColumn(
                name: "ParameterGroupName",
                table: "cache_clusters");
        }
    }
}
