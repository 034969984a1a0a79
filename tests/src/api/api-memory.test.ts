import { startApiServer } from '@dragonflow/api';
import { openstackCliScenario } from './scenario.js';

// df-api on its embedded memory DB, on a real port, driven by the stock openstack CLI.
openstackCliScenario('memory', async (config) => startApiServer({ config: { ...config, listen: { port: 0 }, logLevel: 'warn' } }));
