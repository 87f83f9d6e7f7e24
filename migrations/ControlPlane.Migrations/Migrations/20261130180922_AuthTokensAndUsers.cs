using System;
using System.Collections.Generic;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ControlPlane.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class AuthTokensAndUsers : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "AuthTokenLastModifiedAt",
                table: "replication_groups",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "AuthTokens",
                table: "replication_groups",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "ClientAccessApplied",
                table: "replication_groups",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "UserGroupId",
                table: "replication_groups",
                type: "text",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "user_groups",
                columns: table => new
                {
                    Id = table.Column<string>(type: "character varying(62)", maxLength: 62, nullable: false),
                    Tenant = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false, defaultValue: "default"),
                    Engine = table.Column<string>(type: "text", nullable: false),
                    UserIds = table.Column<List<string>>(type: "text[]", nullable: false),
                    Revision = table.Column<long>(type: "bigint", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    UpdatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    xmin = table.Column<uint>(type: "xid", rowVersion: true, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_user_groups", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "users",
                columns: table => new
                {
                    Id = table.Column<string>(type: "character varying(62)", maxLength: 62, nullable: false),
                    Tenant = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false, defaultValue: "default"),
                    UserName = table.Column<string>(type: "text", nullable: false),
                    Engine = table.Column<string>(type: "text", nullable: false),
                    AccessString = table.Column<string>(type: "text", nullable: false),
                    NoPasswordRequired = table.Column<bool>(type: "boolean", nullable: false),
                    Passwords = table.Column<string>(type: "text", nullable: true),
                    PasswordCount = table.Column<int>(type: "integer", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    UpdatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    xmin = table.Column<uint>(type: "xid", rowVersion: true, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_users", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_user_groups_Tenant_Id",
                table: "user_groups",
                columns: new[] { "Tenant", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_users_Tenant_Id",
                table: "users",
                columns: new[] { "Tenant", "Id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "user_groups");

            migrationBuilder.DropTable(
                name: "users");

            migrationBuilder.DropColumn(
                name: "AuthTokenLastModifiedAt",
                table: "replication_groups");

            migrationBuilder.DropColumn(
                name: "AuthTokens",
                table: "replication_groups");

            migrationBuilder.DropColumn(
                name: "ClientAccessApplied",
                table: "replication_groups");

            migrationBuilder.DropColumn(
                name: "UserGroupId",
                table: "replication_groups");
        }
    }
}
