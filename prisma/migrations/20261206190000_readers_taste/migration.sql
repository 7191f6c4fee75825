-- Learning from readers: what a poem's request was (so 🔄 can ask again), the candidates it was chosen from,
-- the poem it replaced; the taste models; the gate's figures of each run.
ALTER TABLE "Poem" ADD COLUMN "seed" INTEGER;
ALTER TABLE "Poem" ADD COLUMN "options" TEXT NOT NULL DEFAULT '{}';
ALTER TABLE "Poem" ADD COLUMN "candidates" INTEGER NOT NULL DEFAULT 1;
ALTER TABLE "Poem" ADD COLUMN "tasteVersion" TEXT;
ALTER TABLE "Poem" ADD COLUMN "replacesPoemId" INTEGER;

-- CreateIndex
CREATE INDEX "Poem_replacesPoemId_idx" ON "Poem"("replacesPoemId");

ALTER TABLE "TrainingRun" ADD COLUMN "recipe" TEXT;
ALTER TABLE "TrainingRun" ADD COLUMN "tasteVersion" TEXT;
ALTER TABLE "TrainingRun" ADD COLUMN "gate" TEXT NOT NULL DEFAULT '{}';

-- CreateTable
CREATE TABLE "TasteVersion" (
    "version" TEXT NOT NULL PRIMARY KEY,
    "path" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "heldOutAuc" REAL,
    "heldOutPoems" INTEGER NOT NULL DEFAULT 0,
    "trainedPoems" INTEGER NOT NULL DEFAULT 0,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "active" BOOLEAN NOT NULL DEFAULT false,
    "activatedAt" DATETIME,
    "runId" INTEGER
);
