using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ControlPlane.Migrations.Migrations
{
    /// <inheritdoc />
    public partial class TransitEncryption : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "TransitEncryptionMode",
                table: "replication_groups",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "CertificateRenewAt",
                table: "redis_nodes",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "PlainPort",
                table: "redis_nodes",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "TransitEncryptionMode",
                table: "redis_nodes",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "CertificateRenewAt",
                table: "cache_nodes",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "TransitEncryption",
                table: "cache_clusters",
                type: "boolean",
                nullable: false,
                defaultValue: false);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "TransitEncryptionMode",
                table: "replication_groups");

            migrationBuilder.DropColumn(
                name: "CertificateRenewAt",
                table: "redis_nodes");

            migrationBuilder.DropColumn(
                name: "PlainPort",
                table: "redis_nodes");

            migrationBuilder.DropColumn(
                name: "TransitEncryptionMode",
                table: "redis_nodes");

            migrationBuilder.DropColumn(
                name: "CertificateRenewAt",
                table: "cache_nodes");

            migrationBuilder.DropColumn(
                name: "TransitEncryption",
                table: "cache_clusters");
        }
    }
}
