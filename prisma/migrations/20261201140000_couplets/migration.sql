-- /couplet: a couplet (上联 by the user, 下联 by the model) is stored as a Poem of kind "couplet"
ALTER TABLE "Poem" ADD COLUMN "kind" TEXT NOT NULL DEFAULT 'poem';

-- CreateIndex
CREATE INDEX "Poem_kind_createdAt_idx" ON "Poem"("kind", "createdAt");
