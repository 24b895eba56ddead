import { memoryCacheStore } from '@bulwark/resilience';
import { cacheStoreConformance } from '@bulwark/resilience/testing';

cacheStoreConformance({ name: 'memoryCacheStore', createStore: (clock) => memoryCacheStore({ clock }) });
