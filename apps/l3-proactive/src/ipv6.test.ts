import l2 from '@dragonflow/app-l2';
import { describeIpv6Routing } from '@dragonflow/l3/testing';
import l3 from './index.js';

describeIpv6Routing({ title: 'l3-proactive: IPv6 routed as IPv4', apps: [l2, l3], ipv4: 'proactive' });
