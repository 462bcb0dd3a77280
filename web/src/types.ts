import type { SaleState } from './stock';

export interface Sale {
  startsAt: string;
  endsAt: string;
  perMemberLimit: number;
  state: SaleState;
}

export interface Product {
  id: number;
  name: string;
  description: string;
  price: number;
  imageUrl: string;
  stock: number;
  likes: number;
  likedByMe?: boolean;
  saleState: SaleState;
  sale?: Sale;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface PaidOrder {
  orderId: number;
  paymentId: number;
  status: string;
}
