#pragma once

// Routes of who may use the appliance: sign-in sessions, tenants, users,
// tokens and the audit log (docs/api.md, docs/tenants.md).

#include "web/routes.h"

namespace sendense::web {

Response SignInRoute(Call& call);
Response SignOut(Call& call);
Response WhoAmI(Call& call);
Response ListTenants(Call& call);
Response AddTenantRoute(Call& call);
Response SetTenantRoute(Call& call);
Response RemoveTenantRoute(Call& call);
Response ListUsers(Call& call);
Response AddUserRoute(Call& call);
Response RemoveUserRoute(Call& call);
Response SetPasswordRoute(Call& call);
Response ListTokens(Call& call);
Response CreateTokenRoute(Call& call);
Response RemoveTokenRoute(Call& call);
Response AuditRecords(Call& call);

}  // namespace sendense::web
