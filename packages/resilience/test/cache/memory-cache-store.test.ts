import { memoryCacheStore } from '../../src/index.js';
import { cacheStoreConformance } from '../../src/testing/index.js';

cacheStoreConformance({ name: 'memoryCacheStore', createStore: (clock) => memoryCacheStore({ clock }) });
