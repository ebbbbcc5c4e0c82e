import { buildMainDashboard } from './local-cache-sync';

/** Every dashboard as the exact text committed under dashboards/. */
export function renderDashboards(): { file: string; json: string }[] {
  return [buildMainDashboard()].map((dashboard) => ({
    file: `${dashboard.uid}.json`,
    json: `${JSON.stringify(dashboard, null, 2)}\n`,
  }));
}
