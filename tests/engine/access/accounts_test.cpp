// Tenants, users, tokens and the audit log in the catalog on their own:
// qualified names, limits, credentials, principals and what they see, an
// audit log that refuses to be rewritten, and share names per tenant.

#include <gtest/gtest.h>

#include "engine/access/credentials.h"
#include "engine/access/principal.h"
#include "engine/catalog/accounts.h"
#include "engine/catalog/audit_log.h"
#include "engine/catalog/catalog.h"
#include "engine/catalog/names.h"
#include "engine/catalog/sqlite.h"
#include "engine/catalog/vm_configs.h"
#include "engine/error.h"
#include "engine/samba/samba_config.h"
#include "tests/support/test_env.h"

namespace sendense {
namespace {

class AccountsTest : public ::testing::Test {
 protected:
  test::TempDir dir_;
  std::string path_ = dir_ / "catalog.db";
  Catalog catalog_{path_, true};
  Accounts accounts_{path_};
};

VmConfig Vm(const std::string& name) {
  VmConfig vm;
  vm.name = name;
  vm.disks.push_back(DiskSource::At("sda", "nbd://localhost/x"));
  return vm;
}

TEST(NamesTest, QualifiedNamesSplitOneWay) {
  EXPECT_EQ(Qualified("web1", "acme"), "web1@acme");
  EXPECT_EQ(Qualified("web1", ""), "web1");
  EXPECT_EQ(TenantOf("web1@acme"), "acme");
  EXPECT_EQ(TenantOf("web1"), "");
  EXPECT_EQ(LocalName("web1@acme"), "web1");
  EXPECT_NO_THROW(ValidateQualifiedName("VM name", "web1@acme"));
  EXPECT_THROW(ValidateQualifiedName("VM name", "web1@ac@me"), Error);
  EXPECT_THROW(ValidateQualifiedName("VM name", "@acme"), Error);
  EXPECT_THROW(ValidateQualifiedName("VM name", "web1@"), Error);
  EXPECT_THROW(ValidateName("tenant name", "a@b"), Error);
  // Suggestions never name another tenant's VM.
  try {
    ThrowNoSuchVm("web2@acme", {"web1@globex", "web2@globex", "postgres@acme"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "no VM named 'web2@acme'");
  }
}

TEST_F(AccountsTest, TenantsLimitVmsAndGoOnlyWhenEmpty) {
  accounts_.AddTenant({"acme", 1 << 30, 2, ""});
  EXPECT_THROW(accounts_.AddTenant({"acme", {}, {}, ""}), Error);
  EXPECT_THROW(accounts_.AddTenant({"bad name", {}, {}, ""}), Error);
  EXPECT_THROW(accounts_.AddTenant({"zero", 0, {}, ""}), Error);
  VmConfigs vms(path_);
  vms.Add(Vm("web1@acme"));
  vms.Add(Vm("web2@acme"));
  try {
    vms.Add(Vm("web3@acme"));
    FAIL() << "past the VM limit";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNoSpace);
  }
  EXPECT_THROW(vms.Add(Vm("web1@nosuch")), Error);
  // A tenant named like part of another's name is not confused with it.
  accounts_.AddTenant({"me", {}, 1, ""});
  vms.Add(Vm("web1@me"));
  try {
    accounts_.RemoveTenant("acme");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBusy);
    EXPECT_NE(std::string(e.what()).find("web1@acme, web2@acme"),
              std::string::npos)
        << e.what();
  }
  accounts_.AddUser({"ann@acme", Role::kAudit, Realm::kSendense, "", ""});
  vms.Remove("web1@acme");
  vms.Remove("web2@acme");
  accounts_.RemoveTenant("acme");
  EXPECT_FALSE(accounts_.FindTenant("acme"));
  EXPECT_FALSE(accounts_.FindUser("ann@acme")) << "its users go with it";
}

TEST_F(AccountsTest, PasswordsTokensAndPrincipals) {
  accounts_.AddTenant({"acme", {}, {}, ""});
  User ann{"ann@acme", Role::kOperator, Realm::kSendense,
           access::HashPassword("correct horse"), ""};
  accounts_.AddUser(ann);
  EXPECT_THROW(access::HashPassword("short"), Error);
  EXPECT_THROW(
      accounts_.AddUser({"bob@nosuch", Role::kAudit, Realm::kSendense, "", ""}),
      Error);
  const auto who = access::SignIn(accounts_, "ann@acme", "correct horse");
  ASSERT_TRUE(who);
  EXPECT_EQ(who->tenant, "acme");
  EXPECT_EQ(who->role, Role::kOperator);
  EXPECT_TRUE(who->Sees("web1@acme"));
  EXPECT_FALSE(who->Sees("web1@globex"));
  EXPECT_FALSE(who->Sees("web1"));
  EXPECT_FALSE(who->ApplianceAdmin());
  EXPECT_FALSE(access::SignIn(accounts_, "ann@acme", "wrong horse"));
  EXPECT_FALSE(access::SignIn(accounts_, "nobody@acme", "correct horse"));
  // The stored hash is Argon2id and is not a password.
  const std::string hash = accounts_.FindUser("ann@acme")->password_hash;
  EXPECT_EQ(hash.rfind("$argon2id$", 0), 0u) << hash;
  EXPECT_FALSE(access::SignIn(accounts_, "ann@acme", hash));

  // Tokens: at most the user's role, and the lower of both at use.
  const std::string secret = access::NewTokenSecret();
  EXPECT_THROW(accounts_.AddToken({0, "ann@acme", "t", Role::kAdmin,
                                   access::TokenHash(secret), "", "", ""}),
               Error);
  accounts_.AddToken({0, "ann@acme", "t", Role::kRestore,
                      access::TokenHash(secret), "", "", ""});
  auto by_token = access::PrincipalOfToken(accounts_, secret);
  ASSERT_TRUE(by_token);
  EXPECT_EQ(by_token->role, Role::kRestore);
  EXPECT_EQ(by_token->tenant, "acme");
  accounts_.SetRole("ann@acme", Role::kAudit);
  EXPECT_EQ(access::PrincipalOfToken(accounts_, secret)->role, Role::kAudit);
  EXPECT_FALSE(accounts_.Tokens()[0].last_used_at.empty());
  EXPECT_FALSE(access::PrincipalOfToken(accounts_, secret + "0"));
  // Expired tokens and removed users' tokens do nothing.
  const std::string old = access::NewTokenSecret();
  accounts_.AddToken({0, "ann@acme", "old", Role::kAudit,
                      access::TokenHash(old), "", "2000-01-01T00:00:00Z", ""});
  EXPECT_FALSE(access::PrincipalOfToken(accounts_, old));
  accounts_.RemoveUser("ann@acme");
  EXPECT_FALSE(access::PrincipalOfToken(accounts_, secret));
  EXPECT_TRUE(accounts_.Tokens().empty()) << "tokens go with their user";
  EXPECT_TRUE(access::ApplianceToken().ApplianceAdmin());
  EXPECT_TRUE(access::ApplianceToken().Sees("web1@globex"));
}

TEST_F(AccountsTest, TheTokenCacheFollowsChangesMadeElsewhere) {
  accounts_.AddUser({"ops", Role::kOperator, Realm::kSendense, "", ""});
  const std::string secret = access::NewTokenSecret();
  accounts_.AddToken(
      {0, "ops", "t", Role::kOperator, access::TokenHash(secret), "", "", ""});
  access::TokenCache cache(Accounts::GenerationPath(path_));
  int misses = 0;
  const auto db = [&]() -> Accounts& {
    ++misses;
    return accounts_;
  };
  EXPECT_EQ(cache.Resolve(secret, db)->role, Role::kOperator);
  EXPECT_EQ(cache.Resolve(secret, db)->role, Role::kOperator);
  EXPECT_EQ(misses, 1) << "the second came from the cache";
  EXPECT_FALSE(cache.Resolve(secret + "0", db));
  // Changes made through another connection (another process) are seen
  // at once, however quickly they follow each other.
  Accounts other(path_);
  for (int i = 0; i < 3; ++i) {
    other.SetRole("ops", Role::kAudit);
    EXPECT_EQ(cache.Resolve(secret, db)->role, Role::kAudit);
    other.SetRole("ops", Role::kOperator);
    EXPECT_EQ(cache.Resolve(secret, db)->role, Role::kOperator);
  }
  other.RemoveToken(other.Tokens()[0].id);
  EXPECT_FALSE(cache.Resolve(secret, db));
}

TEST_F(AccountsTest, TheAuditLogIsAppendOnly) {
  AuditLog log(path_);
  AuditRecord r;
  r.actor = "ann@acme";
  r.tenant = "acme";
  r.address = "127.0.0.1";
  r.action = "backup";
  r.target = "web1@acme";
  log.Append(r);
  r.tenant = "globex";
  r.outcome = AuditOutcome::kRefused;
  log.Append(r);
  EXPECT_EQ(log.Query(std::nullopt, "", 10).size(), 2u);
  const auto acme = log.Query(std::string("acme"), "", 10);
  ASSERT_EQ(acme.size(), 1u);
  EXPECT_EQ(AuditJson(acme[0])["outcome"], "ok");
  // No row changes; none younger than the keep time goes.
  sqlite::Database db(path_, false);
  EXPECT_THROW(db.Exec("UPDATE audit SET actor = 'someone else'"), Error);
  EXPECT_THROW(db.Exec("DELETE FROM audit"), Error);
  EXPECT_EQ(log.Expire(), 0);
  EXPECT_EQ(log.Query(std::nullopt, "", 10).size(), 2u);
  db.Exec(
      "INSERT INTO audit (at, actor, action, outcome) VALUES "
      "('2001-01-01T00:00:00Z', 'x', 'sign-in', 'ok')");
  EXPECT_EQ(log.Expire(), 1) << "older than a year";
  EXPECT_EQ(log.Query(std::nullopt, "2026-01-01", 10).size(), 2u);
}

TEST(SambaSharesTest, ATenantsSharesCarryItsName) {
  EXPECT_EQ(samba::ShareName({"web1", "sda1", "acme"}), "acme-web1-sda1");
  EXPECT_EQ(samba::ShareName({"web1", "sda1"}), "web1-sda1");
}

}  // namespace
}  // namespace sendense
