using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ControlPlane.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class GroupEndpoints : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "EndpointHost",
                table: "replication_groups",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "PrimaryEndpointPort",
                table: "replication_groups",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "ReaderEndpointPort",
                table: "replication_groups",
                type: "integer",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "EndpointHost",
                table: "replication_groups");

            migrationBuilder.DropColumn(
                name: "PrimaryEndpointPort",
                table: "replication_groups");

            migrationBuilder.DropColumn(
                name: "ReaderEndpointPort",
                table: "replication_groups");
        }
    }
}
