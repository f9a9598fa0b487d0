import { createContext, useContext } from 'react';
import { useStore } from 'zustand';
import type { EngineApi } from '../shared/ipc';
import type { AppActions, AppState, AppStore } from './store/store';

export interface AppContextValue {
  api: EngineApi;
  store: AppStore;
}

export const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
  const value = useContext(AppContext);
  if (!value) throw new Error('useApp outside AppContext');
  return value;
}

/** Selects narrowly from the store (STYLE.md: select narrowly). */
export function useAppState<T>(selector: (s: AppState & AppActions) => T): T {
  return useStore(useApp().store, selector);
}
