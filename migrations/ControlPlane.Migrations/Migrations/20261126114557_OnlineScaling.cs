using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ControlPlane.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class OnlineScaling : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "NodeType",
                table: "redis_nodes",
                type: "text",
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "ReplacesNodeId",
                table: "redis_nodes",
                type: "text",
                nullable: true);

            // Every node so far has its group's type.
            migrationBuilder.Sql("""UPDATE redis_nodes n SET "NodeType" = g."NodeType" FROM replication_groups g WHERE g."Id" = n."ReplicationGroupId";""");

            migrationBuilder.CreateTable(
                name: "slot_moves",
                columns: table => new
                {
                    ReplicationGroupId = table.Column<string>(type: "character varying(40)", nullable: false),
                    Slot = table.Column<int>(type: "integer", nullable: false),
                    FromShardId = table.Column<string>(type: "text", nullable: false),
                    ToShardId = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_slot_moves", x => new { x.ReplicationGroupId, x.Slot });
                    table.ForeignKey(
                        name: "FK_slot_moves_replication_groups_ReplicationGroupId",
                        column: x => x.ReplicationGroupId,
                        principalTable: "replication_groups",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "slot_moves");

            migrationBuilder.DropColumn(
                name: "NodeType",
                table: "redis_nodes");

            migrationBuilder.DropColumn(
                name: "ReplacesNodeId",
                table: "redis_nodes");
        }
    }
}
