using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ControlPlane.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class ElastiCacheQueryApi : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "Tags",
                table: "snapshots",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Tags",
                table: "replication_groups",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "Tags",
                table: "cache_clusters",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "SecretProtected",
                table: "api_keys",
                type: "text",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "Tags",
                table: "snapshots");

            migrationBuilder.DropColumn(
                name: "Tags",
                table: "replication_groups");

            migrationBuilder.DropColumn(
                name: "Tags",
                table: "cache_clusters");

            migrationBuilder.DropColumn(
                name: "SecretProtected",
                table: "api_keys");
        }
    }
}
