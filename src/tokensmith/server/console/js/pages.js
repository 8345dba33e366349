// The console's pages by the name in the URL's hash (#/clients). Each page renders into `root`
// from the admin API and may return a function that stops what it left running.

import { activityPage } from "./activity.js";
import { clientsPage } from "./clients.js";
import { eventsPage } from "./events.js";
import { issuersPage } from "./issuers.js";
import { keysPage } from "./keys.js";
import { realmsPage } from "./realms.js";

export const PAGES = {
  realms: realmsPage,
  clients: clientsPage,
  keys: keysPage,
  issuers: issuersPage,
  events: eventsPage,
  activity: activityPage,
};
