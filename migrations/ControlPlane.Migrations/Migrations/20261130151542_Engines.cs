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
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "Engine",
                table: "snapshots");

            migrationBuilder.DropColumn(
                name: "Engine",
                table: "replication_groups");
        }
    }
}
